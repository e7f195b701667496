//! The HTTP edge: routes, extractors, status codes and envelopes. No file I/O and
//! no hashing here; handlers call the domain services and map their errors.

pub mod account;
pub mod auth;
pub mod envelope;
pub mod faults;
pub mod health;
pub mod journal;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod path;
pub mod route_tag;
pub mod sandbox;
pub mod two_step;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use crate::domain::accounts::Accounts;
use crate::domain::registration::Registration;
use crate::domain::sandbox::Sandbox;
use crate::domain::two_step::TwoStep;
use crate::secret::Secret;
use envelope::{ApiError, Wire};

/// Settings the edge itself needs.
#[derive(Debug)]
pub struct EdgeConfig {
    /// `server.body_limit_bytes`.
    pub body_limit_bytes: u64,
    /// `server.trust_forwarded_for`.
    pub trust_forwarded_for: bool,
    /// `auth.api_key` (empty: off).
    pub api_key: Secret,
    /// `control.token` (empty: none required).
    pub control_token: Secret,
    /// `control.enabled`.
    pub control_enabled: bool,
    /// `server.listen` is a loopback address. When it is not, `/metrics` is never
    /// open: without a `control.token` it answers 401 to everyone.
    pub loopback_only: bool,
    /// `server.request_timeout_secs`.
    pub request_timeout: Duration,
}

/// Handles shared by every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Users, login, tokens.
    pub accounts: Arc<Accounts>,
    /// Two-step verification.
    pub two_step: Arc<TwoStep>,
    /// Control plane.
    pub sandbox: Arc<Sandbox>,
    /// Registration.
    pub registration: Arc<Registration>,
    /// Edge settings.
    pub edge: Arc<EdgeConfig>,
    /// The request journal (control plane).
    pub journal: Arc<journal::Journal>,
    /// Injected faults (control plane).
    pub faults: Arc<faults::Faults>,
    /// Request counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
}

async fn not_found() -> ApiError {
    ApiError::path_not_found()
}

/// `/metrics` on a non-loopback address without a `control.token`: traffic figures
/// are not served to whoever can reach the port.
async fn metrics_closed() -> ApiError {
    ApiError::unauthenticated()
}

/// The route table with its layers.
pub fn router(state: AppState, wire: Arc<Wire>) -> Router {
    let mut routes = Router::new()
        .route("/v1/users/login", post(users::login))
        .route("/v1/users/logout", post(users::logout))
        .route("/v1/users", post(users::create))
        .route(
            "/v1/users/{username}",
            get(users::read).put(users::update).delete(users::remove),
        )
        .route(
            "/v1/settings/account/two-step",
            post(two_step::enable).delete(two_step::disable),
        )
        .route("/v1/account", post(account::register))
        .route("/v1/account/verify", post(account::verify))
        .route("/v1/health", get(health::health))
        .route("/__sandbox/health", get(health::ready))
        .route(
            "/metrics",
            if state.edge.loopback_only || !state.edge.control_token.is_empty() {
                get(metrics::metrics)
            } else {
                get(metrics_closed)
            },
        );
    if state.edge.control_enabled {
        routes = routes
            .route("/__sandbox/state", get(sandbox::state))
            .route("/__sandbox/reset", post(sandbox::reset))
            .route(
                "/__sandbox/requests",
                get(journal::list).delete(journal::clear),
            )
            .route(
                "/__sandbox/faults",
                get(faults::list).post(faults::create).delete(faults::clear),
            )
            .route("/__sandbox/openapi.json", get(openapi::document));
    }
    let edge = Arc::new(middleware::Edge {
        wire,
        journal: state.journal.clone(),
        faults: state.faults.clone(),
        metrics: state.metrics.clone(),
        timeout: state.edge.request_timeout,
    });
    routes
        .route_layer(route_tag::TagRouteLayer)
        .fallback(not_found)
        .with_state(state)
        .layer(
            // Outermost first: the edge layer sees everything, including rendered
            // errors, timeouts and panics.
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(edge, middleware::edge))
                .layer(CatchPanicLayer::custom(middleware::panic_response)),
        )
}
