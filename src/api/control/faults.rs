//! Fault injection (docs/behaviour.md#control-plane): a test asks that the next matching requests get an
//! error envelope and/or a delay, to exercise its client's handling of 500, 503,
//! 429 and slow answers. A fault acts before routing and authentication, so no
//! credentials are needed to provoke it; it never touches the control plane.
//!
//! This file is the registry of active faults and their matching; reading a
//! `POST /__sandbox/faults` body into a [`Fault`] is `fault_request`.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;

use super::is_control_path;
use crate::api::error::{ApiError, Code};
use crate::domain::control::{ResetHook, ResetOptions};

/// Most faults active at once: the list is scanned on every request.
pub const MAX_FAULTS: usize = 1000;
/// Longest delay a fault may ask for (5 minutes). `server.request_timeout_secs`
/// still bounds the request: a longer delay ends in 408.
pub const MAX_DELAY_MS: u64 = 300_000;
/// Most requests one fault may match.
pub const MAX_TIMES: u64 = 1_000_000;

/// One active fault, as `GET /__sandbox/faults` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fault {
    /// Assigned at creation, increasing.
    pub id: u64,
    /// Upper-case method to match; `None`: any.
    pub method: Option<String>,
    /// Exact path to match; `None`: any `/v1/...` path (a Cloud path is faulted
    /// only when named).
    pub path: Option<String>,
    /// Status of the injected error; `None`: a delay-only fault.
    pub status: Option<u16>,
    /// Error code of the injected error (`None` for a delay-only fault): a WhatsApp
    /// On-Premises code, or a Graph code on a Cloud path.
    pub code: Option<u32>,
    /// Details of the injected error (`None`: omitted from the envelope).
    pub details: Option<String>,
    /// Delay before answering (or before passing the request on).
    pub delay_ms: u64,
    /// Requests this fault was created to match.
    pub times: u64,
    /// Requests it will still match.
    pub remaining: u64,
}

impl Fault {
    /// Whether this fault applies to a request of `method` to `path`.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && match &self.path {
                Some(p) => p == path,
                None => path.starts_with("/v1/"),
            }
    }
}

/// What a matched fault does to one request.
#[derive(Debug, Clone)]
pub struct Action {
    /// Wait this long first.
    pub delay: Duration,
    /// Then answer with this error instead of serving the request (`None`: serve it).
    pub error: Option<Injected>,
}

/// An injected error, before the edge renders it in its flavor's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// HTTP status.
    pub status: u16,
    /// Error code.
    pub code: u32,
    /// Details (`None`: the envelope's default).
    pub details: Option<String>,
}

impl Injected {
    /// The On-Premises envelope's error (a code past 65535 has the title "Generic error").
    pub fn on_premises(self) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: u16::try_from(self.code).unwrap_or(Code::Internal.number()),
            details: self.details.map(Into::into),
        }
    }
}

/// The active faults, in creation order.
#[derive(Debug, Default)]
pub struct Faults {
    /// A `std` mutex: held only to scan or edit the short list, never across an
    /// `.await` (the delay is slept after the lock is released).
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    active: Vec<Fault>,
}

impl Faults {
    /// No faults.
    pub fn new() -> Faults {
        Faults::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every edit leaves the list consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a fault built from `spec`; `None` when `MAX_FAULTS` are active.
    pub fn add(&self, spec: Fault) -> Option<Fault> {
        let mut inner = self.lock();
        if inner.active.len() >= MAX_FAULTS {
            return None;
        }
        inner.next_id += 1;
        let fault = Fault {
            id: inner.next_id,
            remaining: spec.times,
            ..spec
        };
        inner.active.push(fault.clone());
        Some(fault)
    }

    /// The active faults, oldest first.
    pub fn list(&self) -> Vec<Fault> {
        self.lock().active.clone()
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().active.clear();
    }

    /// Consumes one use of the oldest fault matching `method path`, if any.
    pub fn take(&self, method: &str, path: &str) -> Option<Action> {
        if is_control_path(path) {
            return None;
        }
        let mut inner = self.lock();
        let i = inner.active.iter().position(|f| f.matches(method, path))?;
        let fault = &mut inner.active[i];
        fault.remaining -= 1;
        let action = Action {
            delay: Duration::from_millis(fault.delay_ms),
            error: fault.status.map(|status| Injected {
                status,
                code: fault.code.unwrap_or(u32::from(Code::Internal.number())),
                details: fault.details.clone(),
            }),
        };
        if fault.remaining == 0 {
            inner.active.remove(i);
        }
        Some(action)
    }
}

impl ResetHook for Faults {
    /// A reset leaves no fault active.
    fn reset(&self, _options: ResetOptions) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::control::fault_request::parse;
    use crate::api::params::Params;
    use serde_json::{json, Value};

    fn fault(v: Value) -> Fault {
        parse(&Params(v.as_object().unwrap().clone())).unwrap()
    }

    #[test]
    fn faults_count_down_and_match_in_creation_order() {
        let faults = Faults::new();
        faults.add(fault(json!({"method": "POST", "status": 503, "times": 2})));
        faults.add(fault(json!({"path": "/v1/health", "status": 429})));
        assert!(faults.take("GET", "/__sandbox/state").is_none());
        let first = faults.take("POST", "/v1/users").unwrap();
        assert_eq!(first.error.unwrap().status, StatusCode::SERVICE_UNAVAILABLE);
        let health = faults.take("GET", "/v1/health").unwrap();
        assert_eq!(health.error.unwrap().code, 1015);
        assert!(faults.take("GET", "/v1/health").is_none());
        assert!(faults.take("POST", "/v1/users").is_some());
        assert!(faults.take("POST", "/v1/users").is_none());
        assert!(faults.list().is_empty());
    }
}
