//! The sandbox control plane and what surrounds it: state and reset, minted Cloud tokens, the control token, the journal, faults, seeds, OpenAPI, metrics, a non-loopback listener and the embedded `Sandbox`.

mod cloud_tokens;
mod control_token;
mod embed;
mod faults;
mod journal;
mod metrics;
mod non_loopback;
mod openapi;
mod seed;
mod state_reset;
