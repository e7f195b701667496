//! Cross-cutting layers: request id and the per-request log line, body rendering
//! (meta, error envelope, 405), the request timeout, and panics as 500 / 1014.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::envelope::{ApiError, Render, Wire};
use super::metrics::Metrics;

/// The matched route of a request, carried out on the response for the log line.
#[derive(Clone)]
struct RouteTag(MatchedPath);

/// The request id, available to handlers and inner layers.
#[derive(Clone, Debug)]
pub struct RequestId(pub Arc<str>);

const X_REQUEST_ID: &str = "x-request-id";

/// An incoming id is echoed when it is 1–128 visible ASCII characters (SPEC §1).
fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=128).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c))
}

/// A new 32-hex-digit id: a random per-process prefix plus a counter, so ids are
/// unique without a system call per request.
fn new_request_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| rand_core::RngCore::next_u64(&mut rand_core::OsRng));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}{n:016x}")
}

/// Outermost layer: assigns the request id, echoes it, and writes one log line
/// per request with chosen fields only (never headers or bodies).
pub async fn request_context(
    State(metrics): State<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let id: Arc<str> = match req.headers().get(X_REQUEST_ID) {
        Some(v) if valid_request_id(v) => Arc::from(v.to_str().unwrap_or_default()),
        _ => Arc::from(new_request_id()),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    let route = resp.extensions().get::<RouteTag>().map(|r| r.0.clone());
    let route = route.as_ref().map_or("-", |r| r.as_str());
    let latency = start.elapsed();
    metrics.record(route, resp.status().as_u16(), latency);
    tracing::info!(
        method = %method,
        route,
        status = resp.status().as_u16(),
        latency_us = latency.as_micros() as u64,
        request_id = %id,
        "request"
    );
    resp
}

/// Route layer: remembers which route matched, for the log line.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut resp = next.run(req).await;
    if let Some(m) = matched {
        resp.extensions_mut().insert(RouteTag(m));
    }
    resp
}

/// Writes bodies marked with `Render`, and gives axum's bare 405 the envelope.
pub async fn render(State(wire): State<Arc<Wire>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let render = match resp.extensions_mut().remove::<Render>() {
        Some(r) => r,
        // The real server answered a wrong method with 405 and code 1014, no
        // details (reference §6); axum has already set the `Allow` header.
        None if resp.status() == StatusCode::METHOD_NOT_ALLOWED => Render::Error {
            code: 1014,
            details: None,
        },
        None => return resp,
    };
    let bytes = wire.body(&render);
    let headers = resp.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *resp.body_mut() = Body::from(bytes);
    resp
}

/// Bounds a whole request, body reading included: a client that trickles its
/// body cannot hold a worker. Answers 408 / 1014 `Request timed out`.
pub async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, 1014, "Request timed out").into_response()
        }
    }
}

/// A panic in a handler becomes 500 / 1014; the panic message is not sent.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_rules() {
        assert!(valid_request_id(&HeaderValue::from_static("abc-123")));
        assert!(valid_request_id(
            &HeaderValue::from_str(&"a".repeat(128)).unwrap()
        ));
        assert!(!valid_request_id(
            &HeaderValue::from_str(&"a".repeat(129)).unwrap()
        ));
        assert!(!valid_request_id(&HeaderValue::from_static("a b")));
        assert!(!valid_request_id(&HeaderValue::from_static("")));
        let a = new_request_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_request_id());
    }
}
