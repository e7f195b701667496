//! The HTTP edge: routes, extractors, status codes and envelopes. No file I/O and
//! no hashing here; handlers call the domain services, and domain errors become
//! [`error::ApiError`]s through `From`, so handlers use `?`.
//!
//! - The emulated `/v1` API, one file per resource: [`login`], [`users`],
//!   [`two_step`], [`registration`], [`health`].
//! - The Cloud (Graph) API, `/{version}/...`: [`cloud`], its own edge with its
//!   own envelope, routing and check order, reached through the route table's
//!   fallback.
//! - The sandbox's own surface: [`control`] (`/__sandbox/...`), [`manager`]
//!   (WhatsApp Manager's JSON endpoints and pages), [`metrics`]
//!   (`/metrics`), [`openapi`].
//! - Shared edge pieces: [`error`] (the code table and `ApiError`), [`envelope`]
//!   (`meta`, the error body, empty success), [`auth`] (who is calling),
//!   [`params`] and [`path`] (reading requests), [`public_url`] (the base of
//!   absolute links), [`timestamps`] (time formats on
//!   the wire), [`middleware`] and [`route_tag`] (the layers).

pub mod auth;
pub mod cloud;
pub mod control;
pub mod envelope;
pub mod error;
pub mod health;
pub mod login;
pub mod manager;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod path;
pub mod public_url;
pub mod registration;
pub mod route_tag;
pub mod timestamps;
pub mod two_step;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

use crate::domain::cloud_tokens::CloudTokens;
use crate::domain::control::Control;
use crate::domain::manager::Manager;
use crate::domain::numbers::Numbers;
use crate::domain::registration::Registration;
use crate::domain::shared::SharedState;
use crate::domain::two_step::TwoStep;
use crate::domain::users::Users;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::secret::Secret;
use control::faults::Faults;
use control::handlers as ctl;
use control::journal::Journal;
use envelope::Wire;
use error::ApiError;

/// Settings the edge itself needs.
#[derive(Debug)]
pub struct EdgeConfig {
    /// `server.body_limit_bytes`.
    pub body_limit_bytes: u64,
    /// `server.trust_forwarded_for`.
    pub trust_forwarded_for: bool,
    /// `server.proxy_hops`.
    pub proxy_hops: u32,
    /// The base of absolute links (`server.public_url`, or derived per request).
    pub public_url: public_url::PublicUrl,
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
    /// The `[cloud]` settings the Cloud edge needs.
    pub cloud: cloud::CloudConfig,
    /// `host:port` of `manager.smtp_url`; `None`: emails stay in the outbox only.
    pub smtp_addr: Option<String>,
}

/// Handles shared by every handler: one `Arc`, so the clone axum makes for
/// every request is one reference count, not one per service.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Shares `services` with every handler.
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services and settings behind [`AppState`].
#[derive(Debug)]
pub struct Services {
    /// Users, login, tokens.
    pub users: Arc<Users>,
    /// Two-step verification.
    pub two_step: Arc<TwoStep>,
    /// The control plane's state overview and reset.
    pub control: Arc<Control>,
    /// Phone registration.
    pub registration: Arc<Registration>,
    /// The WABA's phone numbers.
    pub numbers: Arc<Numbers>,
    /// Cloud API access tokens.
    pub cloud_tokens: Arc<CloudTokens>,
    /// WhatsApp Manager: Change PIN, Turn off, the outbox.
    pub manager: Arc<Manager>,
    /// The `security` webhook's deliveries.
    pub webhooks: Arc<manager::webhooks::Webhooks>,
    /// Edge settings.
    pub edge: Arc<EdgeConfig>,
    /// The request journal (control plane).
    pub journal: Arc<Journal>,
    /// Injected faults (control plane).
    pub faults: Arc<Faults>,
    /// The metrics registry behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Whether the server can serve (`/__sandbox/health`).
    pub readiness: Arc<Readiness>,
    /// Catching up with other servers that share the state (a database backend).
    pub shared: SharedState,
}

/// `/metrics` on a non-loopback address without a `control.token`: traffic figures
/// are not served to whoever can reach the port.
async fn metrics_closed() -> ApiError {
    ApiError::unauthenticated()
}

/// The whole HTTP service: the edge layer around the route table. Cheap to clone.
pub type App = middleware::EdgeService<Router>;

/// The route table with its layers.
pub fn router(state: AppState, wire: Arc<Wire>) -> App {
    let mut routes = Router::new()
        .route("/v1/users/login", post(login::login))
        .route("/v1/users/logout", post(login::logout))
        .route("/v1/users", post(users::create))
        .route(
            "/v1/users/{username}",
            get(users::read).put(users::update).delete(users::remove),
        )
        .route(
            "/v1/settings/account/two-step",
            post(two_step::enable).delete(two_step::disable),
        )
        .route("/v1/account", post(registration::register))
        .route("/v1/account/verify", post(registration::verify))
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
            .route("/__sandbox/state", get(ctl::state))
            .route("/__sandbox/reset", post(ctl::reset))
            .route(
                "/__sandbox/requests",
                get(ctl::list_requests).delete(ctl::clear_requests),
            )
            .route(
                "/__sandbox/faults",
                get(ctl::list_faults)
                    .post(ctl::create_fault)
                    .delete(ctl::clear_faults),
            )
            .route("/__sandbox/cloud/tokens", post(control::cloud_tokens::mint))
            .route("/__sandbox/manager", get(manager::pages::to_index))
            .route("/__sandbox/manager/", get(manager::pages::index))
            .route("/__sandbox/manager/style.css", get(manager::pages::style))
            .route(
                "/__sandbox/manager/login",
                get(manager::pages::login_form).post(manager::pages::login),
            )
            .route(
                "/__sandbox/manager/numbers/{id}/",
                get(manager::pages::number),
            )
            .route(
                "/__sandbox/manager/numbers/{id}/change-pin",
                post(manager::pages::change_pin),
            )
            .route(
                "/__sandbox/manager/numbers/{id}/set-pin",
                post(manager::pages::set_pin),
            )
            .route(
                "/__sandbox/manager/numbers/{id}/turn-off",
                post(manager::pages::turn_off),
            )
            .route(
                "/__sandbox/manager/reset/{token}",
                get(manager::pages::reset).post(manager::pages::confirm_reset),
            )
            .route(
                "/__sandbox/manager/api/numbers",
                get(manager::json::numbers),
            )
            .route(
                "/__sandbox/manager/api/numbers/{id}/change-pin",
                post(manager::json::change_pin),
            )
            .route(
                "/__sandbox/manager/api/numbers/{id}/set-pin",
                post(manager::json::set_pin),
            )
            .route(
                "/__sandbox/manager/api/numbers/{id}/turn-off",
                post(manager::json::turn_off),
            )
            .route(
                "/__sandbox/manager/api/reset/{token}",
                get(manager::json::inspect_reset).post(manager::json::confirm_reset),
            )
            .route("/__sandbox/webhooks", get(manager::webhooks::list))
            .route(
                "/__sandbox/emails",
                get(manager::json::list_emails).delete(manager::json::clear_emails),
            )
            .route("/__sandbox/openapi.json", get(openapi::document));
    }
    let edge = Arc::new(middleware::Edge {
        wire,
        journal: state.journal.clone(),
        faults: state.faults.clone(),
        metrics: state.metrics.clone(),
        timeout: state.edge.request_timeout,
        shared: state.shared.clone(),
        cloud: state.edge.cloud.enabled.then_some(state.edge.cloud.window),
    });
    let routes = routes
        .route_layer(route_tag::TagRouteLayer)
        .fallback(cloud::fallback)
        .with_state(state);
    // The edge sees everything, including rendered errors, timeouts and panics.
    // Wrapped around the whole router, not layered into it: `Router::layer` puts
    // a copy of the layer into every route.
    middleware::EdgeService::new(edge, routes)
}
