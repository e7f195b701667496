//! Reading a `POST /__sandbox/faults` body into a [`Fault`]: which keys
//! are allowed, their ranges, and the defaults (a missing status or code comes
//! from the other through the code table in `api::error`, or for a Cloud path
//! through the Graph table in `api::cloud::envelope`).

use serde_json::Value;

use super::faults::{Fault, MAX_DELAY_MS, MAX_TIMES};
use super::is_control_path;
use crate::api::cloud::{envelope as graph, is_graph_path};
use crate::api::error::{default_status, ApiError, Code};
use crate::api::params::Params;

/// The keys a fault body may have; any other is refused with 400 / 1010.
const PARAMS: [&str; 7] = [
    "method", "path", "status", "code", "details", "delay_ms", "times",
];

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
            Code::UnexpectedParameter,
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
    // A Cloud path's fault speaks Graph codes, which run past 65535 (133004).
    let cloud = path.as_deref().is_some_and(is_graph_path);
    let max_code = if cloud { 999_999_999 } else { 65_535 };
    let code = int_param(params, "code", 1..=max_code)?.map(|c| c as u32);
    let delay_ms = int_param(params, "delay_ms", 0..=MAX_DELAY_MS)?;
    let times = int_param(params, "times", 1..=MAX_TIMES)?.unwrap_or(1);
    // Only a delay and nothing about the error: let the request through, late.
    let delay_only = delay_ms.is_some() && status.is_none() && code.is_none() && details.is_none();
    let (status, code) = if delay_only {
        (None, None)
    } else {
        // Each defaults from the other through the flavor's code table; neither:
        // 500 / 1014 (On-Premises) or 500 / 131000 (Cloud).
        let status = status
            .or(code.map(|c| match cloud {
                true => graph::status_for_code(c),
                false => default_status(c as u16).as_u16(),
            }))
            .unwrap_or(500);
        let code = code.unwrap_or_else(|| match cloud {
            true => graph::code_for_status(status),
            false => u32::from(Code::for_status(status).number()),
        });
        (Some(status), Some(code))
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
    fn a_cloud_paths_fault_defaults_from_the_graph_table() {
        let f = fault(json!({"path": "/v22.0/1/register", "status": 503}));
        assert_eq!((f.status, f.code), (Some(503), Some(133004)));
        let f = fault(json!({"path": "/v22.0/1/register", "code": 133005}));
        assert_eq!((f.status, f.code), (Some(400), Some(133005)));
        let f = fault(json!({"path": "/v22.0/1"}));
        assert_eq!((f.status, f.code), (Some(500), Some(131000)));
        assert_eq!(
            parse(&params(json!({"code": 133005}))).unwrap_err().code,
            1009
        );
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
}
