//! The sandbox control plane (`/__sandbox/...`, SPEC §6): its handlers and its
//! registries (injected faults, the request journal).

pub mod faults;
pub mod handlers;
pub mod journal;

// The files here were written as siblings of these modules.
use super::{auth, envelope, params, users, AppState};
