//! wa-twostep: an HTTP server that emulates the WhatsApp Business API Client's
//! two-step verification settings (`POST` / `DELETE /v1/settings/account/two-step`)
//! with the login, users and health endpoints around them.
//!
//! # Layout
//!
//! Data flows one way: **HTTP edge → services → store**.
//! - [`api`]: routes, extractors, status codes and the WhatsApp envelope.
//! - [`domain`]: the product's rules (PIN, passwords, login, tokens, two-step)
//!   and the bounded argon2id pool.
//! - [`store`]: the state, committed durably (fsync) before it becomes visible.
//! - [`config`] and [`cli`]: settings, layered defaults < file < env < flags.
//! - [`startup`]: wiring and the accept loop; [`telemetry`]: logs.
//! - [`deadline`]: the request timeout, which stops applying once a change is queued.
//! - [`seed`]: the state a fresh or reset server starts from (settings + seed file).
//! - [`embed`]: [`Sandbox`], the server started inside a Rust test process.

pub mod api;
pub mod cli;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod embed;
pub mod secret;
pub mod seed;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use embed::Sandbox;
