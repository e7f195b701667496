//! Fault injection (SPEC §6): a test asks that the next matching requests get an
//! error envelope and/or a delay, to exercise its client's handling of 500, 503,
//! 429 and slow answers. A fault acts before routing and authentication, so no
//! credentials are needed to provoke it; it never touches the control plane.

use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use super::auth::Control;
use super::envelope::ApiError;
use super::journal::is_control_path;
use super::params::Params;
use super::AppState;

/// Most faults active at once: the list is scanned on every request.
pub const MAX_FAULTS: usize = 1000;
/// Longest delay a fault may ask for (5 minutes). `server.request_timeout_secs`
/// still bounds the request: a longer delay ends in 408.
pub const MAX_DELAY_MS: u64 = 300_000;
/// Most requests one fault may match.
pub const MAX_TIMES: u64 = 1_000_000;
const PARAMS: [&str; 7] = [
    "method", "path", "status", "code", "details", "delay_ms", "times",
];

/// One active fault, as `GET /__sandbox/faults` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fault {
    /// Assigned at creation, increasing.
    pub id: u64,
    /// Upper-case method to match; `None`: any.
    pub method: Option<String>,
    /// Exact path to match; `None`: any `/v1/...` path.
    pub path: Option<String>,
    /// Status of the injected error; `None`: a delay-only fault.
    pub status: Option<u16>,
    /// Error code of the injected error (`None` for a delay-only fault).
    pub code: Option<u16>,
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
    fn matches(&self, method: &str, path: &str) -> bool {
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
    pub error: Option<ApiError>,
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
            error: fault.status.map(|status| ApiError {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code: fault.code.unwrap_or(1014),
                details: fault.details.clone().map(Into::into),
            }),
        };
        if fault.remaining == 0 {
            inner.active.remove(i);
        }
        Some(action)
    }
}

/// The code an injected status carries when none is given: the one the server
/// uses with that status (SPEC §1 table), else 1014.
pub fn default_code(status: u16) -> u16 {
    match status {
        400 | 413 => 1009,
        401 | 403 => 1005,
        404 => 1006,
        409 => 1004,
        429 => 1015,
        503 => 1016,
        _ => 1014,
    }
}

/// The status an injected code carries when none is given: the one the server
/// uses with that code (SPEC §1 table), else 500.
pub fn default_status(code: u16) -> u16 {
    match code {
        1004 => 409,
        1005 | 1024 => 401,
        1006 => 404,
        1008 | 1009 | 1010 | 1025 => 400,
        1015 => 429,
        1016 => 503,
        _ => 500,
    }
}

/// An integer parameter within `range`: a JSON integer, or a string of digits (form
/// bodies); `null` counts as absent.
fn int_param(
    params: &Params,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    let n = match params.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Some(_) => None,
    };
    match n {
        Some(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(format!(
            "Parameter '{name}' must be an integer from {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

/// A string parameter; `null` counts as absent.
fn str_param<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, ApiError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(format!(
            "Parameter '{name}' must be a string"
        ))),
    }
}

/// Validates a `POST /__sandbox/faults` body into a fault (id and remaining unset).
pub fn parse(params: &Params) -> Result<Fault, ApiError> {
    if let Some(unknown) = params.0.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            1010,
            format!("Unknown parameter '{unknown}'"),
        ));
    }
    let method = match str_param(params, "method")? {
        None => None,
        Some(m) if (1..=16).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Some(m.to_ascii_uppercase())
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "Parameter 'method' must be an HTTP method such as GET or POST",
            ))
        }
    };
    let path = match str_param(params, "path")? {
        None => None,
        Some(p)
            if p.starts_with('/')
                && p.len() <= 1024
                && !p.contains(['?', '#'])
                && !p.contains(char::is_whitespace)
                && !is_control_path(p) =>
        {
            Some(p.to_owned())
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "Parameter 'path' must be an absolute path without a query, outside /__sandbox",
            ))
        }
    };
    let details = match str_param(params, "details")? {
        Some(d) if d.len() > 1024 => {
            return Err(ApiError::invalid(
                "Parameter 'details' must be at most 1024 bytes",
            ))
        }
        d => d.map(str::to_owned),
    };
    let status = int_param(params, "status", 400..=599)?.map(|s| s as u16);
    let code = int_param(params, "code", 1..=65535)?.map(|c| c as u16);
    let delay_ms = int_param(params, "delay_ms", 0..=MAX_DELAY_MS)?;
    let times = int_param(params, "times", 1..=MAX_TIMES)?.unwrap_or(1);
    // Only a delay and nothing about the error: let the request through, late.
    let delay_only = delay_ms.is_some() && status.is_none() && code.is_none() && details.is_none();
    let (status, code) = if delay_only {
        (None, None)
    } else {
        let status = status.or(code.map(default_status)).unwrap_or(500);
        (
            Some(status),
            Some(code.unwrap_or_else(|| default_code(status))),
        )
    };
    Ok(Fault {
        id: 0,
        method,
        path,
        status,
        code,
        details,
        delay_ms: delay_ms.unwrap_or(0),
        times,
        remaining: times,
    })
}

/// `{"faults": [...]}`
#[derive(Debug, Serialize)]
pub struct FaultList {
    /// Active faults, oldest (first to match) first.
    pub faults: Vec<Fault>,
}

/// `POST /__sandbox/faults`: 201 with the new fault.
pub async fn create(
    State(state): State<AppState>,
    _c: Control,
    params: Params,
) -> Result<(StatusCode, Json<Fault>), ApiError> {
    let spec = parse(&params)?;
    let fault = state
        .faults
        .add(spec)
        .ok_or_else(|| ApiError::invalid(format!("At most {MAX_FAULTS} faults can be active")))?;
    Ok((StatusCode::CREATED, Json(fault)))
}

/// `GET /__sandbox/faults`.
pub async fn list(State(state): State<AppState>, _c: Control) -> Json<FaultList> {
    Json(FaultList {
        faults: state.faults.list(),
    })
}

/// `DELETE /__sandbox/faults`: removes every fault.
pub async fn clear(State(state): State<AppState>, _c: Control) -> Json<FaultList> {
    state.faults.clear();
    Json(FaultList { faults: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Params {
        Params(v.as_object().unwrap().clone())
    }

    fn fault(v: Value) -> Fault {
        parse(&params(v)).unwrap()
    }

    #[test]
    fn an_empty_body_is_one_internal_error_on_any_v1_path() {
        let f = fault(json!({}));
        assert_eq!(
            (f.status, f.code, f.times, f.delay_ms),
            (Some(500), Some(1014), 1, 0)
        );
        assert!(f.matches("GET", "/v1/health"));
        assert!(!f.matches("GET", "/metrics"));
    }

    #[test]
    fn status_and_code_default_from_each_other() {
        let f = fault(json!({"status": 503}));
        assert_eq!((f.status, f.code), (Some(503), Some(1016)));
        let f = fault(json!({"code": 1015}));
        assert_eq!((f.status, f.code), (Some(429), Some(1015)));
        let f = fault(json!({"status": 502, "code": 7}));
        assert_eq!((f.status, f.code), (Some(502), Some(7)));
    }

    #[test]
    fn a_delay_alone_is_a_delay_only_fault() {
        let f = fault(json!({"delay_ms": 10}));
        assert_eq!((f.status, f.code, f.delay_ms), (None, None, 10));
        let f = fault(json!({"delay_ms": 10, "details": "x"}));
        assert_eq!(f.status, Some(500));
    }

    #[test]
    fn form_strings_are_accepted_for_integers() {
        let f = fault(json!({"status": "429", "times": "3", "method": "post"}));
        assert_eq!((f.status, f.times), (Some(429), 3));
        assert_eq!(f.method.as_deref(), Some("POST"));
    }

    #[test]
    fn bad_values_are_1009_and_unknown_keys_1010() {
        for bad in [
            json!({"status": 399}),
            json!({"status": 600}),
            json!({"status": "5xx"}),
            json!({"code": 0}),
            json!({"times": 0}),
            json!({"delay_ms": -1}),
            json!({"delay_ms": 300001}),
            json!({"method": "GE T"}),
            json!({"method": 1}),
            json!({"path": "v1/health"}),
            json!({"path": "/__sandbox/state"}),
            json!({"path": "/v1/health?x=1"}),
        ] {
            assert_eq!(parse(&params(bad.clone())).unwrap_err().code, 1009, "{bad}");
        }
        assert_eq!(parse(&params(json!({"delay": 5}))).unwrap_err().code, 1010);
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
