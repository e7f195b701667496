//! The integration tests, in one binary (fast to link). Everything is black-box
//! over real TCP on 127.0.0.1, port 0.
//!
//! - Against the spawned `wa-twostep` binary (`support::app::TestApp`): `onprem`
//!   (the `/v1` API and its wire conventions), `cloud` (the Graph API flavor),
//!   `manager` (WhatsApp Manager: Change PIN, Turn off by emailed link),
//!   `control` (the `/__sandbox` control plane, seeds, Cloud tokens, OpenAPI,
//!   metrics; all but `control::embed`), `config`, and in
//!   `reliability`: `crash`, `overload`, `slow_clients`, `secrets`, `persistence`,
//!   `state_file`, `upgrade` and the raw-socket half of `hostile` (`hostile::over_tcp`); and
//!   `deploy` (behind a real nginx, health while draining, the public URL).
//! - In-process: `control::embed` tests `wa_twostep::Sandbox` itself;
//!   `deploy::draining` flips the state backend's readiness flag of an `App`;
//!   `reliability::disk_faults` serves a `wa_twostep::startup::App` with store
//!   hooks (`support::inproc::InProc`); `reliability::hostile::in_process` drives
//!   `App::router` with `oneshot`, so generated requests reach it unaltered.
//!
//! `support` holds the harnesses, the raw HTTP/1.1 client, the envelope
//! assertions (`support::graph` for the Graph envelope and Cloud requests) and the
//! shared constants.

mod cloud;
mod config;
mod control;
mod deploy;
mod manager;
mod onprem;
mod reliability;
mod replicas;
mod support;
