//! wa-twostep: an HTTP server that emulates WhatsApp's two-step verification PIN in
//! both flavors of the product on one port: the Cloud (Graph) API (set a number's
//! PIN, register and deregister it, read it) and the WhatsApp Business API Client,
//! the On-Premises API (`POST` / `DELETE /v1/settings/account/two-step` with the
//! login, users, registration and health endpoints around it).
//!
//! # Layout
//!
//! Data flows one way: **HTTP edge → services → store**, and `use crate::…`
//! edges only point down this list:
//!
//! 1. Entry points: `main.rs` (the binary), [`cli`] (its flags), [`startup`]
//!    (wiring and the accept loop) and [`embed`] ([`Sandbox`], the server started
//!    inside a Rust test process). They may use everything below.
//! 2. [`api`], the HTTP edges: the On-Premises API (routes, extractors, its error
//!    code table `api::error`, the WhatsApp envelope), the Cloud API (`api::cloud`:
//!    its own routing, check order, Graph envelope and code table), and the
//!    control plane `/__sandbox/...` (`api::control`, with its fault and journal
//!    registries). It reaches the store only through `domain` (e.g.
//!    `domain::users::Role`).
//! 3. [`domain`], the product's rules and services: users and login, two-step,
//!    phone registration, the control plane's state overview and reset
//!    (`domain::control`), the seed (`domain::seed`), and the bounded argon2id pool.
//! 4. [`store`]: the state, committed durably (fsync, or a PostgreSQL commit when
//!    several servers share it) before it becomes visible.
//!
//! Leaf utilities, usable from any layer and importing none of the layers:
//! [`clock`] (the one wall clock), [`deadline`] (the request timeout, which
//! stops applying once a change is queued with the store), [`metrics`] (the
//! registry behind `/metrics`: the store and the argon2 pool count into it, `api`
//! renders it), [`secret`] (redacted strings), [`readiness`] (whether the server
//! can serve: set by the accept loop while draining and by a state backend that
//! can become unreachable, read by `/__sandbox/health`), [`telemetry`] (logs: the
//! subscriber, its sink and writer thread, the per-request line, the log format
//! and the filter check; it imports nothing of the crate) and
//! [`config`] (settings, layered defaults < file < env < flags). `config` reads
//! [`cli`]'s flag struct and its listen-address parser (the one edge from a leaf
//! to an entry point, since the flags are the top settings layer; `cli` imports
//! nothing of the crate) and uses `telemetry` to check `log.level`.
//!
//! Names mean one thing each: `Sandbox` is only the embedded server; the
//! control-plane service is `domain::control::Control`; "faults" are only the
//! control plane's injected HTTP faults (`api::control::faults`), while disk
//! write failures in tests are `store::WriteStep` / `store::FailHook`;
//! "users" is user records and login, "registration" a phone number's; "tokens"
//! alone are the On-Premises login tokens, "Cloud tokens" the Graph access tokens.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod embed;
pub mod metrics;
pub mod readiness;
pub mod secret;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use embed::Sandbox;
