//! Cross-cutting layers: request id, faults, the request timeout, body rendering
//! (meta, error envelope, 405), journal, metrics and the per-request log line in
//! one outer layer; the matched route; panics as 500 / 1014.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::cloud;
use super::control::faults::Faults;
use super::control::journal::{is_journaled, Entry, Journal};
use super::envelope::{Render, Wire};
use super::error::{ApiError, Code};
use super::route_tag::RouteTag;
use crate::clock::now_ms;
use crate::domain::shared::SharedState;
use crate::metrics::Metrics;

const X_REQUEST_ID: &str = "x-request-id";

/// An incoming id is echoed when it is 1–128 visible ASCII characters (docs/behaviour.md#request-id).
fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=128).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c))
}

/// A new 32-hex-digit id: a random per-process prefix plus a counter, so ids are
/// unique without a system call per request.
fn new_request_id() -> Arc<str> {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| rand_core::RngCore::next_u64(&mut rand_core::OsRng));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = (u128::from(prefix) << 64) | u128::from(n);
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[((id >> (124 - 4 * i)) & 0xf) as usize];
    }
    Arc::from(std::str::from_utf8(&hex).unwrap_or_default())
}

/// Everything the edge layer uses, built once at start.
#[derive(Debug)]
pub struct Edge {
    /// Body rendering (meta, envelopes, empty success).
    pub wire: Arc<Wire>,
    /// The request journal.
    pub journal: Arc<Journal>,
    /// Injected faults.
    pub faults: Arc<Faults>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// `server.request_timeout_secs`.
    pub timeout: Duration,
    /// Catching up with other servers sharing the state (skipped for a file).
    pub shared: SharedState,
    /// The Graph version window, when the Cloud flavor is on: errors the layers
    /// make for a Graph path get the Graph envelope.
    pub cloud: Option<cloud::version::Window>,
}

/// Paths that read or change the shared state, and so must first see every
/// change other servers acknowledged. The health probe, metrics and the per-server
/// registries (journal, faults, the OpenAPI document) do not: the probe must answer
/// even while the database is away.
fn needs_state(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("/__sandbox/") {
        return matches!(rest, "state" | "reset");
    }
    path != "/metrics"
}

/// The one outer layer, in this order: assigns the request id; applies an injected
/// fault (before routing and auth) and bounds the whole request with the timeout
/// (a client that trickles its body cannot hold a worker: 408 / 1014); renders the
/// body (`meta`, envelopes, axum's bare 405); echoes the id; journals the request;
/// counts it; and writes one log line with chosen fields only (never headers or
/// bodies). One layer rather than six: each `from_fn` layer boxes a future and
/// clones the service, which a profile showed as a large share of a cheap request.
pub async fn edge(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id: Arc<str> = match req.headers().get(X_REQUEST_ID) {
        Some(v) if valid_request_id(v) => Arc::from(v.to_str().unwrap_or_default()),
        _ => new_request_id(),
    };
    let method = req.method().clone();
    let journaled = edge.journal.capacity() > 0 && is_journaled(req.uri().path());
    let arrival = journaled.then(|| (now_ms(), req.uri().path().to_owned()));
    let fault = edge.faults.take(method.as_str(), req.uri().path());
    let shared =
        (edge.shared.is_shared() && needs_state(req.uri().path())).then(|| edge.shared.clone());
    // A Graph path answers in the Graph envelope, whoever makes the answer.
    let graph = edge
        .cloud
        .filter(|_| cloud::is_graph_path(req.uri().path()))
        .map(|window| (window, req.uri().path().to_owned()));
    let fault_graph = graph.clone();
    let serve = async move {
        if let Some(action) = fault {
            if !action.delay.is_zero() {
                tokio::time::sleep(action.delay).await;
            }
            if let Some(error) = action.error {
                return match fault_graph {
                    Some((window, path)) => cloud::injected(window, &path, error),
                    None => error.on_premises().into_response(),
                };
            }
        }
        // One head check per request, only when the state is shared: a change any
        // server acknowledged before this request arrived is what it reads.
        if let Some(shared) = shared {
            if let Err(e) = shared.catch_up().await {
                return ApiError::from(e).into_response();
            }
        }
        next.run(req).await
    };
    // A change already handed to the state writer is answered with its real
    // outcome, even past the timeout (see `deadline`).
    let mut resp = match crate::deadline::run(edge.timeout, serve).await {
        Some(resp) => resp,
        None => ApiError::timed_out().into_response(),
    };
    if let Some((window, path)) = &graph {
        cloud::translate(*window, path, &mut resp);
    }
    render(&edge.wire, &mut resp);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    let latency = start.elapsed();
    let status = resp.status().as_u16();
    if let Some((arrived_ms, path)) = arrival {
        edge.journal.record(Entry {
            method: method.to_string(),
            path,
            status,
            request_id: id.to_string(),
            time: arrived_ms,
            latency_ms: latency.as_micros() as f64 / 1000.0,
        });
    }
    let route = resp.extensions().get::<RouteTag>().cloned();
    let route = route.as_ref().map_or("-", |r| r.as_str());
    edge.metrics.record(route, status, latency);
    tracing::info!(
        method = %method,
        route,
        status,
        latency_us = latency.as_micros() as u64,
        request_id = %id,
        "request"
    );
    resp
}

/// Writes a body marked with `Render`, and gives axum's bare 405 the envelope.
fn render(wire: &Wire, resp: &mut Response) {
    let render = match resp.extensions_mut().remove::<Render>() {
        Some(r) => r,
        // The real server answered a wrong method with 405 and code 1014, no
        // details (docs/on-premises.md#wire-conventions); axum has already set the `Allow` header.
        None if resp.status() == StatusCode::METHOD_NOT_ALLOWED => Render::Error {
            code: Code::Internal.number(),
            details: None,
        },
        None => return,
    };
    let bytes = wire.body(&render);
    let headers = resp.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *resp.body_mut() = Body::from(bytes);
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
