//! What every answer to a hostile request must be: no 5xx but 503 (1016, or
//! 133004 on a Cloud path), an `X-Request-ID` (the sent one when valid), `Allow`
//! on 405, and a body that is the envelope (the Graph envelope with its headers on
//! a Cloud path), the empty login 401 or a `/__sandbox` JSON object.

use axum::http::Method;
use serde_json::Value;

use crate::support::*;

/// The path without its query.
fn route_of(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Whether `path` is a Cloud (Graph) path: its first segment is `v<major>.<minor>`.
fn is_graph(path: &str) -> bool {
    let first = route_of(path)
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let Some((major, minor)) = first.strip_prefix('v').and_then(|v| v.split_once('.')) else {
        return false;
    };
    let digits = |s: &str| (1..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor) && route_of(path).starts_with('/')
}

/// A Cloud answer: the Graph content type and headers, an object body, and on an
/// error the Graph envelope whose `fbtrace_id` is `x-fb-request-id`.
fn check_graph(method: &Method, a: &Reply, ctx: &dyn Fn() -> String) -> Result<(), String> {
    if let Some(wrong) = graph_headers_mismatch(a) {
        return Err(format!("Cloud headers: {wrong}: {}", ctx()));
    }
    if a.body.is_empty() && *method == Method::HEAD {
        return Ok(());
    }
    let body: Value =
        serde_json::from_slice(&a.body).map_err(|e| format!("not JSON ({e}): {}", ctx()))?;
    if !body.is_object() {
        return Err(format!("Cloud body not an object: {}", ctx()));
    }
    if (200..300).contains(&a.status) {
        return Ok(());
    }
    let e = &body["error"];
    let ok = e["message"].is_string()
        && matches!(
            e["type"].as_str(),
            Some("OAuthException" | "GraphMethodException")
        )
        && e["code"].is_u64()
        && e["fbtrace_id"].as_str().is_some()
        && a.header("x-fb-request-id").as_deref() == e["fbtrace_id"].as_str();
    if !ok {
        return Err(format!("not the Graph envelope: {}", ctx()));
    }
    if a.status == 503 && e["code"] != 133004 {
        return Err(format!("503 without 133004: {}", ctx()));
    }
    if (400..500).contains(&a.status) && a.header("www-authenticate").is_none() {
        return Err(format!("a Cloud 4xx without WWW-Authenticate: {}", ctx()));
    }
    Ok(())
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
    if is_graph(path) {
        return check_graph(method, a, &ctx);
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
