//! The Cloud (Graph) API edge (docs/behaviour.md#cloud-api): the paths
//! `/{version}/...` on the same server and port as `/v1`, with the Graph envelope
//! and headers ([`envelope`], its code table [`codes`]), parameters from body or query ([`params`]), access
//! tokens ([`auth`]) and the version window ([`version`]). Handlers: [`numbers`]
//! (set the PIN, read a number, list the WABA's numbers) and [`registration`]
//! (register, deregister).
//!
//! The edge routes its own paths instead of using axum's route table, because the
//! Graph API's check order is not a router's: path and version → token → object
//! (the ID exists and takes the method) → scope → parameters → the operation
//! (docs/behaviour.md#graph-check-order). A wrong method is not a 405 but an
//! "unsupported request" after the token check, and an unknown object beats
//! every parameter problem. [`Endpoint::ALL`] is the one table of Cloud routes.

pub mod auth;
pub mod codes;
pub mod envelope;
pub mod numbers;
pub mod params;
pub mod registration;
pub mod version;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use self::envelope::{Ctx, GraphError};
use self::params::Incoming;
use super::control::faults::Injected;
use super::envelope::Render;
use super::error::ApiError;
use super::route_tag::RouteTag;
use super::AppState;
use crate::config::GraphVersion;
use crate::domain::cloud_tokens::Scope;
use crate::domain::numbers::PhoneNumberId;
use crate::domain::registration::RegistrationError;
use crate::domain::two_step::TwoStepError;
use crate::domain::Unavailable;

/// What the Cloud edge needs from the settings.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// `cloud.enabled`.
    pub enabled: bool,
    /// `cloud.waba_id`.
    pub waba_id: String,
    /// `cloud.oldest_version` to `cloud.latest_version`.
    pub window: version::Window,
}

/// A Cloud route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /{version}/{phone_number_id}`: set the PIN.
    SetPin,
    /// `GET /{version}/{phone_number_id}`: read the number's fields.
    ReadNumber,
    /// `POST /{version}/{phone_number_id}/register`.
    Register,
    /// `POST /{version}/{phone_number_id}/deregister`.
    Deregister,
    /// `GET /{version}/{waba_id}/phone_numbers`.
    ListNumbers,
}

impl Endpoint {
    /// Every Cloud route (the OpenAPI coverage test reads this table).
    pub const ALL: [Endpoint; 5] = [
        Endpoint::SetPin,
        Endpoint::ReadNumber,
        Endpoint::Register,
        Endpoint::Deregister,
        Endpoint::ListNumbers,
    ];

    /// Its method.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::ReadNumber | Endpoint::ListNumbers => "GET",
            _ => "POST",
        }
    }

    /// Its path template: the route label in logs and metrics, and the OpenAPI path.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::SetPin | Endpoint::ReadNumber => "/{version}/{phone_number_id}",
            Endpoint::Register => "/{version}/{phone_number_id}/register",
            Endpoint::Deregister => "/{version}/{phone_number_id}/deregister",
            Endpoint::ListNumbers => "/{version}/{waba_id}/phone_numbers",
        }
    }
}

/// The version and the rest of a Graph path (`/v22.0/123/register` →
/// `v22.0`, `/123/register`), one trailing slash dropped (Meta's Node SDK sends
/// `POST /v22.0/{id}/`: docs/behaviour.md#graph-paths-and-versions).
fn split(path: &str) -> Option<(GraphVersion, &str)> {
    let rest = path.strip_prefix('/')?;
    let (first, rest) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let version = GraphVersion::parse_asked(first)?;
    Some((version, rest.strip_suffix('/').unwrap_or(rest)))
}

/// Whether `path` is a Graph path: its first segment is a version (`v22.0`).
/// `/v1/...` is not (no minor version), so the two flavors never overlap.
pub fn is_graph_path(path: &str) -> bool {
    split(path).is_some()
}

/// The route label of a Graph path, by its shape (as a router would match it).
fn label(segments: &[&str]) -> Option<&'static str> {
    match segments {
        [_] => Some(Endpoint::ReadNumber.route()),
        [_, "register"] => Some(Endpoint::Register.route()),
        [_, "deregister"] => Some(Endpoint::Deregister.route()),
        [_, "phone_numbers"] => Some(Endpoint::ListNumbers.route()),
        _ => None,
    }
}

/// The fallback of the route table: a Graph path goes to the Cloud edge (when
/// enabled); anything else is the On-Premises 404 / 1006.
pub async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    if state.edge.cloud.enabled {
        // `dispatch` answers a path that is not a Graph path with the 404 below.
        return dispatch(state, req).await;
    }
    ApiError::path_not_found().into_response()
}

/// Serves one Graph request in the Graph check order; any other path is the
/// On-Premises 404 / 1006.
async fn dispatch(state: AppState, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some((version, rest)) = split(&path) else {
        return ApiError::path_not_found().into_response();
    };
    let segments: Vec<&str> = match rest.strip_prefix('/') {
        Some(r) => r.split('/').collect(),
        None => Vec::new(),
    };
    let mut resp = match state.edge.cloud.window.serve(version) {
        Err(ctx) => {
            let rest = if rest.is_empty() { "/" } else { rest };
            ctx.error(GraphError::unknown_path(rest))
        }
        Ok(ctx) => {
            let incoming = Incoming::read(req, state.edge.body_limit_bytes).await;
            match handle(&state, &ctx, &incoming, &segments).await {
                Ok(resp) => resp,
                Err(e) => ctx.error(e),
            }
        }
    };
    if let Some(route) = label(&segments) {
        resp.extensions_mut().insert(RouteTag::Cloud(route));
    }
    resp
}

/// The wire context of a Graph path answered outside the dispatcher.
fn ctx_for(window: version::Window, path: &str) -> Ctx {
    match split(path) {
        Some((version, _)) => window.serve(version).unwrap_or_else(|ctx| ctx),
        None => Ctx::new(window.latest),
    }
}

/// An injected fault's answer on a Graph path, in the Graph envelope.
pub fn injected(window: version::Window, path: &str, e: Injected) -> Response {
    ctx_for(window, path).error(GraphError::injected(e.status, e.code, e.details))
}

/// Gives an answer the shared layers made for a Graph path (a timeout, a panic:
/// errors in the On-Premises form) the Graph envelope instead.
pub fn translate(window: version::Window, path: &str, resp: &mut Response) {
    if !matches!(
        resp.extensions().get::<Render>(),
        Some(Render::Error { .. })
    ) {
        return;
    }
    let status = resp.status();
    // A 503 made outside the Graph edge (an unreachable shared state, before the
    // request reached it) is the Graph API's transient 133004.
    let mut e = if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        GraphError::overloaded()
    } else {
        GraphError::internal()
    };
    e.status = status;
    e.auth_error = status.is_client_error().then_some("invalid_request");
    if status == axum::http::StatusCode::REQUEST_TIMEOUT {
        e = e.details("Request timed out");
    }
    let tag = resp.extensions().get::<RouteTag>().cloned();
    *resp = ctx_for(window, path).error(e);
    if let Some(tag) = tag {
        resp.extensions_mut().insert(tag);
    }
}

/// What a path names once its object is found.
enum Target {
    /// A route of a phone number.
    Number(Endpoint, PhoneNumberId),
    /// The WABA's numbers.
    WabaNumbers,
}

/// The object check: the ID exists and the route exists for the method.
fn resolve(state: &AppState, method: &str, segments: &[&str]) -> Result<Target, GraphError> {
    let Some((&id, edge)) = segments.split_first() else {
        return Err(GraphError::unsupported(method, None));
    };
    let unsupported = || GraphError::unsupported(method, Some(id));
    let unknown_rest = || GraphError::unknown_path(&format!("/{}", edge.join("/")));
    if state.numbers.get(id).is_some() {
        let id = PhoneNumberId::parse(id).map_err(|_| unsupported())?;
        let endpoint = match (edge, method) {
            ([], "GET") => Endpoint::ReadNumber,
            ([], "POST") => Endpoint::SetPin,
            (["register"], "POST") => Endpoint::Register,
            (["deregister"], "POST") => Endpoint::Deregister,
            ([] | ["register"] | ["deregister"], _) => return Err(unsupported()),
            _ => return Err(unknown_rest()),
        };
        return Ok(Target::Number(endpoint, id));
    }
    if id == state.edge.cloud.waba_id {
        return match (edge, method) {
            (["phone_numbers"], "GET") => Ok(Target::WabaNumbers),
            ([] | ["phone_numbers"], _) => Err(unsupported()),
            _ => Err(unknown_rest()),
        };
    }
    Err(unsupported())
}

async fn handle(
    state: &AppState,
    ctx: &Ctx,
    incoming: &Incoming,
    segments: &[&str],
) -> Result<Response, GraphError> {
    let access = auth::authenticate(&state.cloud_tokens, incoming)?;
    let target = resolve(state, incoming.method.as_str(), segments)?;
    // Every route here manages the WABA (docs/behaviour.md#cloud-tokens).
    auth::require(&access, Scope::Management)?;
    let params = incoming.params()?;
    let gone =
        |id: &PhoneNumberId| GraphError::unsupported(incoming.method.as_str(), Some(id.as_str()));
    match target {
        Target::Number(Endpoint::SetPin, id) => numbers::set_pin(state, ctx, &id, params)
            .await
            .map_err(|e| e.or_gone(|| gone(&id))),
        Target::Number(Endpoint::ReadNumber, id) => numbers::read(state, ctx, &id, params),
        Target::Number(Endpoint::Register, id) => registration::register(state, ctx, &id, params)
            .await
            .map_err(|e| e.or_gone(|| gone(&id))),
        Target::Number(_, id) => registration::deregister(state, ctx, &id)
            .await
            .map_err(|e| e.or_gone(|| gone(&id))),
        Target::WabaNumbers => numbers::list(state, ctx, params),
    }
}

/// A domain failure of a Cloud operation, before it becomes a [`GraphError`]:
/// the number may have gone (a reset between the object check and the change).
#[derive(Debug)]
pub enum OpError {
    /// The number no longer exists.
    Gone,
    /// Any other answer.
    Graph(GraphError),
}

impl OpError {
    /// The Graph error, with `gone` for a number that went away.
    fn or_gone(self, gone: impl FnOnce() -> GraphError) -> GraphError {
        match self {
            OpError::Gone => gone(),
            OpError::Graph(e) => e,
        }
    }
}

impl From<GraphError> for OpError {
    fn from(e: GraphError) -> Self {
        OpError::Graph(e)
    }
}

impl From<Unavailable> for OpError {
    fn from(e: Unavailable) -> Self {
        OpError::Graph(match e {
            // A full hashing queue, or a shared state backend out of reach: 503 /
            // 133004, a retry may succeed (docs/behaviour.md#several-replicas).
            Unavailable::Overloaded => GraphError::overloaded(),
            Unavailable::StateUnreachable(why) => {
                tracing::warn!(error = %why, "state backend unreachable");
                GraphError::overloaded()
            }
            other => {
                tracing::error!(error = %other, "request failed");
                GraphError::internal()
            }
        })
    }
}

impl From<TwoStepError> for OpError {
    fn from(e: TwoStepError) -> Self {
        match e {
            TwoStepError::UnknownNumber => OpError::Gone,
            TwoStepError::Unavailable(u) => u.into(),
        }
    }
}

impl From<RegistrationError> for OpError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::UnknownNumber => OpError::Gone,
            RegistrationError::PinMismatch => GraphError::pin_mismatch().into(),
            RegistrationError::TooManyGuesses { retry_after } => {
                GraphError::too_many_guesses(retry_after.as_secs().div_ceil(60).max(1)).into()
            }
            RegistrationError::TooManyRegistrations => GraphError::too_many_registrations().into(),
            RegistrationError::Unavailable(u) => u.into(),
            // The Cloud edge checks the PIN itself and sends no verification code.
            other => {
                tracing::error!(error = %other, "unexpected registration error");
                GraphError::internal().into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_paths_start_with_a_version_and_drop_one_trailing_slash() {
        let v22 = GraphVersion {
            major: 22,
            minor: 0,
        };
        assert_eq!(split("/v22.0/123/"), Some((v22, "/123")));
        assert_eq!(split("/v22.0/123/register"), Some((v22, "/123/register")));
        assert_eq!(split("/v22.0"), Some((v22, "")));
        assert_eq!(split("/v22.0/"), Some((v22, "")));
        assert!(!is_graph_path("/v1/users"));
        assert!(!is_graph_path("/__sandbox/state"));
        assert!(!is_graph_path("/"));
        assert!(!is_graph_path("/v22/123"));
    }

    #[test]
    fn labels_follow_the_shape_of_the_path() {
        assert_eq!(label(&["1"]), Some("/{version}/{phone_number_id}"));
        assert_eq!(label(&["1", "register"]), Some(Endpoint::Register.route()));
        assert_eq!(label(&["1", "other"]), None);
        assert_eq!(label(&[]), None);
    }
}
