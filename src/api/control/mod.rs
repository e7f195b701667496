//! The sandbox control plane (`/__sandbox/...`, docs/behaviour.md#control-plane): not part of the real
//! API, so it lives under its own prefix, needs `control.token` when one is set,
//! and its bodies carry no `meta`.
//!
//! The registries are leaf files: [`faults`] (injected faults and their
//! matching) and [`journal`] (the ring of answered requests). [`fault_request`]
//! reads a `POST /__sandbox/faults` body; [`views`] holds the JSON bodies;
//! [`handlers`] holds the handlers; [`cloud_tokens`] mints Cloud access tokens. The state overview and the reset are the
//! domain's (`domain::control`).

pub mod cloud_tokens;
pub mod fault_request;
pub mod faults;
pub mod handlers;
pub mod journal;
pub mod views;

/// The prefix of every control-plane path. (The route table in `api` spells its
/// paths out in full, so the OpenAPI route-coverage test can read them.)
pub const PREFIX: &str = "/__sandbox";

/// Whether `path` is on the control plane (`/__sandbox` or below): such requests
/// are never journaled and never hit by an injected fault.
pub fn is_control_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_paths_are_the_prefix_and_below() {
        assert!(is_control_path("/__sandbox"));
        assert!(is_control_path("/__sandbox/requests"));
        assert!(!is_control_path("/__sandboxes"));
        assert!(!is_control_path("/v1/health"));
    }
}
