//! Cross-cutting layers: request id, faults, the request timeout, body rendering
//! (meta, error envelope, 405), journal, metrics and the per-request log line in
//! one outer layer; the matched route; panics as 500 / 1014.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt};

use super::cloud;
use super::control::faults::Faults;
use super::control::journal::{is_journaled, Entry, Journal};
use super::envelope::{Render, Wire};
use super::error::{ApiError, Code};
use super::route_tag::RouteTag;
use crate::clock::now_ms;
use crate::domain::shared::SharedState;
use crate::metrics::Metrics;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An incoming id is echoed when it is 1–128 visible ASCII characters (docs/behaviour.md#request-id).
fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=128).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c))
}

/// A new 32-hex-digit id: a random per-process prefix plus a counter, so ids are
/// unique without a system call per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| rand_core::RngCore::next_u64(&mut rand_core::OsRng));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = (u128::from(prefix) << 64) | u128::from(n);
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[((id >> (124 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&hex).expect("hex digits are a valid header value")
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
/// change other servers acknowledged: the APIs, the state and reset, and the
/// WhatsApp Manager's pages and endpoints (a PIN, a pending reset link). The health
/// probe, metrics, the Manager's stylesheet and the per-server registries
/// (journal, faults, outbox, webhooks, the OpenAPI document) do not: the probe
/// must answer even while the database is away.
fn needs_state(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("/__sandbox/") {
        return matches!(rest, "state" | "reset")
            || (rest.starts_with("manager") && rest != "manager/style.css");
    }
    path != "/metrics"
}

/// The one outer layer, in this order: assigns the request id; applies an injected
/// fault (before routing and auth) and bounds the whole request with the timeout
/// (a client that trickles its body cannot hold a worker: 408 / 1014); renders the
/// body (`meta`, envelopes, axum's bare 405); echoes the id; journals the request;
/// counts it; and writes one log line with chosen fields only (never headers or
/// bodies).
///
/// A hand-written tower service around the whole router rather than axum's
/// `from_fn`: that boxed a large future per request, built a boxed `Next`, and,
/// as a router layer, cloned itself into every route. Here a request with no
/// fault and no shared state to catch up with calls the router directly, and its
/// future is the router's own plus the fields the answer needs.
#[derive(Clone, Debug)]
pub struct EdgeService<S> {
    /// What the layer uses.
    edge: Arc<Edge>,
    /// The router (with the panic layer).
    inner: S,
}

impl<S> EdgeService<S> {
    /// The edge around `inner`.
    pub fn new(edge: Arc<Edge>, inner: S) -> EdgeService<S> {
        EdgeService { edge, inner }
    }
}

/// What the answer needs from the request, kept while the router works.
struct Arrival {
    start: Instant,
    id: HeaderValue,
    method: Method,
    /// Arrival time and path, when the request goes into the journal.
    journal: Option<(i64, String)>,
    /// The Graph version window and the path, for a Graph path.
    graph: Option<(cloud::version::Window, Uri)>,
}

type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

pin_project_lite::pin_project! {
    /// The router's future, or, for a request with a fault or a state to catch
    /// up with first, a boxed one doing that and then calling the router.
    #[project = RouteProj]
    pub enum Route<F> {
        /// Straight to the router.
        Direct { #[pin] inner: F },
        /// A fault or a catch-up first.
        Prepared { inner: Boxed },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Route<F> {
    type Output = Response;

    /// A panic in a handler becomes 500 / 1014 here; the future is not polled
    /// again after it (the edge's future completes with that answer).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let polled = catch_unwind(AssertUnwindSafe(|| match self.project() {
            RouteProj::Direct { inner } => inner.poll(cx).map(|Ok(resp)| resp),
            RouteProj::Prepared { inner } => inner.as_mut().poll(cx),
        }));
        polled.unwrap_or_else(|panic| Poll::Ready(panic_response(panic)))
    }
}

impl<S> Service<Request> for EdgeService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let edge = &self.edge;
        let start = Instant::now();
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(v) if valid_request_id(v) => v.clone(),
            _ => new_request_id(),
        };
        let path = req.uri().path();
        let journal = (edge.journal.capacity() > 0 && is_journaled(path))
            .then(|| (now_ms(), path.to_owned()));
        let fault = edge.faults.take(req.method().as_str(), path);
        let shared = (edge.shared.is_shared() && needs_state(path)).then(|| edge.shared.clone());
        // A Graph path answers in the Graph envelope, whoever makes the answer.
        let graph = edge
            .cloud
            .filter(|_| cloud::is_graph_path(path))
            .map(|window| (window, req.uri().clone()));
        let arrival = Arrival {
            start,
            id,
            method: req.method().clone(),
            journal,
            graph,
        };
        let route = if fault.is_none() && shared.is_none() {
            // Routing and extractors run here, before the first poll.
            match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
                Ok(inner) => Route::Direct { inner },
                Err(panic) => {
                    let answer = panic_response(panic);
                    Route::Prepared {
                        inner: Box::pin(async move { answer }),
                    }
                }
            }
        } else {
            let inner = self.inner.clone();
            let fault_graph = arrival.graph.clone();
            Route::Prepared {
                inner: Box::pin(async move {
                    if let Some(action) = fault {
                        if !action.delay.is_zero() {
                            tokio::time::sleep(action.delay).await;
                        }
                        if let Some(error) = action.error {
                            return match fault_graph {
                                Some((window, uri)) => cloud::injected(window, uri.path(), error),
                                None => error.on_premises().into_response(),
                            };
                        }
                    }
                    // One head check per request, only when the state is shared: a
                    // change any server acknowledged before this request arrived is
                    // what it reads.
                    if let Some(shared) = shared {
                        if let Err(e) = shared.catch_up().await {
                            return ApiError::from(e).into_response();
                        }
                    }
                    match inner.oneshot(req).await {
                        Ok(resp) => resp,
                        Err(never) => match never {},
                    }
                }),
            }
        };
        EdgeFuture {
            // A change already handed to the state writer is answered with its
            // real outcome, even past the timeout (see `deadline`).
            inner: crate::deadline::bound(edge.timeout, route),
            edge: Some((edge.clone(), arrival)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`EdgeService`].
    pub struct EdgeFuture<F> {
        #[pin]
        inner: crate::deadline::Bounded<Route<F>>,
        edge: Option<(Arc<Edge>, Arrival)>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for EdgeFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.inner.poll(cx));
        let resp = answer.unwrap_or_else(|| ApiError::timed_out().into_response());
        let (edge, arrival) = this
            .edge
            .take()
            .expect("EdgeFuture polled after completion");
        Poll::Ready(Ok(finish(&edge, arrival, resp)))
    }
}

/// Everything after the router: the envelope, the id, the journal, the metrics
/// and the log line.
fn finish(edge: &Edge, arrival: Arrival, mut resp: Response) -> Response {
    if let Some((window, uri)) = &arrival.graph {
        cloud::translate(*window, uri.path(), &mut resp);
    }
    render(&edge.wire, &mut resp);
    let latency = arrival.start.elapsed();
    let status = resp.status().as_u16();
    let id = arrival.id;
    if let Some((arrived_ms, path)) = arrival.journal {
        edge.journal.record(Entry {
            method: arrival.method.clone(),
            path,
            status,
            request_id: id.clone(),
            time: arrived_ms,
            latency_ms: latency.as_micros() as f64 / 1000.0,
        });
    }
    let route = resp.extensions().get::<RouteTag>();
    let route = route.map_or("-", |r| r.as_str());
    edge.metrics.record(route, status, latency);
    crate::telemetry::log_request(&crate::telemetry::RequestLine {
        method: arrival.method.as_str(),
        route,
        status,
        latency_us: latency.as_micros() as u64,
        request_id: id.to_str().unwrap_or_default(),
    });
    resp.headers_mut().insert(X_REQUEST_ID, id);
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
    fn the_manager_catches_up_but_its_stylesheet_and_the_registries_do_not() {
        for path in [
            "/__sandbox/manager/",
            "/__sandbox/manager/numbers/1/change-pin",
            "/__sandbox/manager/api/reset/abc",
            "/__sandbox/state",
            "/v1/settings/account/two-step",
        ] {
            assert!(needs_state(path), "{path}");
        }
        for path in [
            "/__sandbox/manager/style.css",
            "/__sandbox/health",
            "/__sandbox/emails",
            "/__sandbox/requests",
            "/metrics",
        ] {
            assert!(!needs_state(path), "{path}");
        }
    }

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
        assert!(a.as_bytes().iter().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_request_id());
    }
}
