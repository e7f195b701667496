//! The sandbox control plane and what surrounds it: state and reset, the control token, the journal, faults, seeds, OpenAPI, metrics and the embedded `Sandbox`.

mod control_token;
mod embed;
mod faults;
mod journal;
mod metrics;
mod openapi;
mod seed;
mod state_reset;
