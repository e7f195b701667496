//! What every answer to a hostile request must be: no 5xx but 503 / 1016, an
//! `X-Request-ID` (the sent one when valid), `Allow` on 405, and a body that is the
//! envelope, the empty login 401 or a `/__sandbox` JSON object.

use axum::http::Method;
use serde_json::Value;

use crate::support::*;

/// The path without its query.
fn route_of(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Checks one answer; `sent_id` is the `X-Request-ID` sent, if any.
pub(super) fn check(
    method: &Method,
    path: &str,
    a: &Reply,
    sent_id: Option<&[u8]>,
) -> Result<(), String> {
    let body_text = a.text();
    let ctx = || format!("{} {} → {}: {body_text}", method, path, a.status);
    if a.status >= 500 && a.status != 503 {
        return Err(format!("server error: {}", ctx()));
    }
    let id = a
        .header_bytes("x-request-id")
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("no X-Request-ID: {}", ctx()))?;
    let echo = sent_id
        .filter(|s| (1..=128).contains(&s.len()) && s.iter().all(|c| (0x21..=0x7e).contains(c)));
    match echo {
        Some(sent) if id != sent => return Err(format!("X-Request-ID not echoed: {}", ctx())),
        None if !(id.len() == 32 && id.iter().all(u8::is_ascii_hexdigit)) => {
            return Err(format!(
                "generated X-Request-ID {:?}: {}",
                String::from_utf8_lossy(&id),
                ctx()
            ))
        }
        _ => {}
    }
    if a.status == 405 && a.header_bytes("allow").is_none() {
        return Err(format!("405 without Allow: {}", ctx()));
    }
    if a.body.is_empty() {
        let login_refusal = a.status == 401 && route_of(path) == "/v1/users/login";
        return if login_refusal || *method == Method::HEAD {
            Ok(())
        } else {
            Err(format!("empty body: {}", ctx()))
        };
    }
    if !a.is_json() {
        return Err(format!(
            "content-type {:?}: {}",
            a.header("content-type"),
            ctx()
        ));
    }
    let body: Value =
        serde_json::from_slice(&a.body).map_err(|e| format!("not JSON ({e}): {}", ctx()))?;
    let success = (200..300).contains(&a.status);
    if success && route_of(path).starts_with("/__sandbox/") {
        return if body.is_object() {
            Ok(())
        } else {
            Err(format!("sandbox body not an object: {}", ctx()))
        };
    }
    if body["meta"] != meta() {
        return Err(format!("no meta: {}", ctx()));
    }
    if !success {
        let code = body["errors"][0]["code"]
            .as_i64()
            .ok_or_else(|| format!("no errors[0].code: {}", ctx()))?;
        let known = title(code).ok_or_else(|| format!("unknown code: {}", ctx()))?;
        if body["errors"][0]["title"] != known {
            return Err(format!("wrong title: {}", ctx()));
        }
        if a.status == 503 && code != 1016 {
            return Err(format!("503 without 1016: {}", ctx()));
        }
    }
    Ok(())
}
