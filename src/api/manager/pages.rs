//! The Manager's pages (docs/behaviour.md#whatsapp-manager): server-rendered HTML
//! from the templates beside this file (minijinja, auto-escaped), no JavaScript.
//! Every link and form action is relative, so the pages work under a proxy
//! prefix: the number page lives at `numbers/{id}/` and its actions at
//! `numbers/{id}/<action>`, one directory, so a page rendered as the answer to a
//! POST resolves its links the same way. Success answers redirect (303, relative
//! `Location`) so a reload never repeats a change. Every page is sent with a
//! restrictive `Content-Security-Policy`, `X-Frame-Options: DENY`, `no-referrer`
//! (the reset page's URL is a secret) and `no-store`.

use std::sync::OnceLock;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Environment};

use super::json::NumberView;
use super::session;
use crate::api::params::Params;
use crate::api::AppState;
use crate::domain::manager::{LinkError, ManagerError};
use crate::domain::numbers::PhoneNumberId;

/// The pages' stylesheet.
const STYLE: &str = include_str!("templates/style.css");

/// `Content-Security-Policy` of every page: nothing but the stylesheet, forms
/// only to this server, never in a frame.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The templates, parsed once.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("index.html", include_str!("templates/index.html")),
            ("number.html", include_str!("templates/number.html")),
            ("reset.html", include_str!("templates/reset.html")),
            ("reset_done.html", include_str!("templates/reset_done.html")),
            ("error.html", include_str!("templates/error.html")),
            ("login.html", include_str!("templates/login.html")),
        ] {
            // The templates are part of the binary; a unit test renders each one.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "bad template");
            }
        }
        env
    })
}

/// Adds the page headers.
fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Renders `name` with `ctx` as a page with `status`.
fn render(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    let html = templates().get_template(name).and_then(|t| t.render(ctx));
    match html {
        Ok(html) => secure(
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page failed to render");
            secure((StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response())
        }
    }
}

/// An error page.
fn error_page(status: StatusCode, root: &str, heading: &str, message: &str) -> Response {
    render(status, "error.html", context! { root, heading, message })
}

/// A 303 to a relative `location`.
fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    secure(resp)
}

/// Who is looking: `Ok(None)` when no control token is set (no login), the
/// session when a valid one is presented, or a redirect to the login page.
fn session_or_login(
    state: &AppState,
    headers: &HeaderMap,
    root: &str,
) -> Result<Option<String>, Box<Response>> {
    let key = &state.edge.control_token;
    if key.is_empty() {
        return Ok(None);
    }
    match session::session_cookie(headers) {
        Some(s) if session::valid_session(key, &s) => Ok(Some(s)),
        _ => Err(Box::new(see_other(&format!("{root}login")))),
    }
}

/// The CSRF token a form of this session carries ("" without a login).
fn csrf_of(state: &AppState, session: &Option<String>) -> String {
    session
        .as_deref()
        .map(|s| session::csrf_for(&state.edge.control_token, s))
        .unwrap_or_default()
}

/// Refuses a state-changing form without the session's CSRF token.
fn check_csrf(
    state: &AppState,
    session: &Option<String>,
    params: &Params,
    root: &str,
) -> Result<(), Box<Response>> {
    let Some(s) = session else { return Ok(()) };
    let given = params
        .get("csrf")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if session::csrf_ok(&state.edge.control_token, s, given) {
        Ok(())
    } else {
        Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            root,
            "Form expired",
            "This form is missing its security token. Go back, reload the page and try again.",
        )))
    }
}

/// A text field of a form ("" when absent or not text).
fn field<'p>(params: &'p Params, name: &str) -> &'p str {
    params
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// `GET /__sandbox/manager`: to the directory form, which relative links need.
pub async fn to_index() -> Response {
    see_other("manager/")
}

/// `GET /__sandbox/manager/style.css`.
pub async fn style() -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response();
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `GET /__sandbox/manager/`: the numbers with their status.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(login) = session_or_login(&state, &headers, "") {
        return *login;
    }
    let numbers: Vec<NumberView> = state.numbers.list().into_iter().map(Into::into).collect();
    let numbers: Vec<minijinja::Value> = numbers
        .iter()
        .map(minijinja::Value::from_serialize)
        .collect();
    render(
        StatusCode::OK,
        "index.html",
        context! { root => "", numbers },
    )
}

/// The number page's root: from `numbers/{id}/` up to the Manager.
const NUMBER_ROOT: &str = "../../";

/// The number page, with an optional notice or error.
fn number_page(
    state: &AppState,
    id: &PhoneNumberId,
    session: &Option<String>,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let Some(number) = state.numbers.get(id.as_str()) else {
        return no_number();
    };
    let number = minijinja::Value::from_serialize(NumberView::from(number));
    render(
        status,
        "number.html",
        context! {
            root => NUMBER_ROOT,
            number,
            notice,
            error,
            csrf => csrf_of(state, session),
            business_email => state.manager.business_email(),
        },
    )
}

/// 404 page for a number the state does not hold.
fn no_number() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        NUMBER_ROOT,
        "No such number",
        "This WhatsApp Business Account has no phone number with that ID.",
    )
}

/// The `{id}` of a number page.
fn page_number(path: Result<Path<String>, PathRejection>) -> Result<PhoneNumberId, Box<Response>> {
    let Ok(Path(id)) = path else {
        return Err(Box::new(no_number()));
    };
    PhoneNumberId::parse(&id).map_err(|_| Box::new(no_number()))
}

/// `GET /__sandbox/manager/numbers/{id}/`.
pub async fn number(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Response {
    let session = match session_or_login(&state, &headers, NUMBER_ROOT) {
        Ok(s) => s,
        Err(login) => return *login,
    };
    let id = match page_number(path) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let email = state.manager.business_email().to_owned();
    let sent =
        format!("We sent an email to {email} with a link to turn off two-step verification.");
    let notice = match query.0.as_deref() {
        Some("done=changed") => Some("Your PIN was changed."),
        Some("done=set") => Some("Two-step verification is on."),
        Some("done=email") => Some(sent.as_str()),
        _ => None,
    };
    number_page(&state, &id, &session, StatusCode::OK, notice, None)
}

/// The page answering a refused action.
fn refused(
    state: &AppState,
    id: &PhoneNumberId,
    session: &Option<String>,
    e: ManagerError,
) -> Response {
    let status = match &e {
        ManagerError::UnknownNumber => return no_number(),
        ManagerError::TooManyGuesses { .. } => StatusCode::TOO_MANY_REQUESTS,
        ManagerError::NotEnabled | ManagerError::AlreadyEnabled => StatusCode::CONFLICT,
        // A failed write is the server's fault, 500 as on the API (nothing changed).
        ManagerError::Unavailable(u) if !u.is_transient() => StatusCode::INTERNAL_SERVER_ERROR,
        ManagerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match &e {
        ManagerError::Unavailable(u) => {
            tracing::warn!(error = %u, "manager action failed");
            "The change could not be saved. Nothing changed; try again.".to_owned()
        }
        other => other.to_string(),
    };
    number_page(state, id, session, status, None, Some(&message))
}

/// Which form a POST came from.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Change PIN.
    Change,
    /// Set PIN.
    Set,
    /// Turn off.
    TurnOff,
}

/// The three number forms.
async fn act(
    state: AppState,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    params: Params,
    action: Action,
) -> Response {
    let session = match session_or_login(&state, &headers, NUMBER_ROOT) {
        Ok(s) => s,
        Err(login) => return *login,
    };
    if let Err(page) = check_csrf(&state, &session, &params, NUMBER_ROOT) {
        return *page;
    }
    let id = match page_number(path) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let done = match action {
        Action::Change => state
            .manager
            .change_pin(
                &id,
                field(&params, "current_pin"),
                field(&params, "new_pin"),
                field(&params, "confirm_pin"),
            )
            .await
            .map(|()| "changed"),
        Action::Set => state
            .manager
            .set_pin(
                &id,
                field(&params, "new_pin"),
                field(&params, "confirm_pin"),
            )
            .await
            .map(|()| "set"),
        Action::TurnOff => {
            let base = state.edge.public_url.base(&headers);
            super::turn_off(&state, &id, &base).await.map(|_| "email")
        }
    };
    match done {
        Ok(done) => see_other(&format!("./?done={done}")),
        Err(e) => refused(&state, &id, &session, e),
    }
}

/// `POST /__sandbox/manager/numbers/{id}/change-pin`.
pub async fn change_pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    act(state, headers, path, params, Action::Change).await
}

/// `POST /__sandbox/manager/numbers/{id}/set-pin`.
pub async fn set_pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    act(state, headers, path, params, Action::Set).await
}

/// `POST /__sandbox/manager/numbers/{id}/turn-off`.
pub async fn turn_off(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    act(state, headers, path, params, Action::TurnOff).await
}

/// The reset pages' root: from `reset/` up to the Manager.
const RESET_ROOT: &str = "../";

/// The page of a link that does not work.
fn link_error(e: LinkError) -> Response {
    let (status, heading) = match &e {
        LinkError::Unknown => (StatusCode::NOT_FOUND, "This link doesn't work"),
        LinkError::Expired => (StatusCode::GONE, "This link has expired"),
        LinkError::Unavailable(u) => {
            tracing::warn!(error = %u, "reset link failed");
            let status = if u.is_transient() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (status, "Try again")
        }
    };
    let message = match &e {
        LinkError::Unavailable(_) => {
            "The change could not be saved. Nothing changed; try again.".to_owned()
        }
        other => other.to_string(),
    };
    error_page(status, RESET_ROOT, heading, &message)
}

/// `GET /__sandbox/manager/reset/{token}`: the confirmation; changes nothing.
/// No login needed: the link is the secret.
pub async fn reset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = path else {
        return link_error(LinkError::Unknown);
    };
    match state.manager.inspect_link(&token) {
        Ok(number) => {
            let number = minijinja::Value::from_serialize(NumberView::from(number));
            render(
                StatusCode::OK,
                "reset.html",
                context! { root => RESET_ROOT, number, token },
            )
        }
        Err(e) => link_error(e),
    }
}

/// `POST /__sandbox/manager/reset/{token}`: two-step off, durably.
pub async fn confirm_reset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = path else {
        return link_error(LinkError::Unknown);
    };
    match super::confirm_reset(&state, &token).await {
        Ok(number) => {
            let number = minijinja::Value::from_serialize(NumberView::from(number));
            render(
                StatusCode::OK,
                "reset_done.html",
                context! { root => RESET_ROOT, number },
            )
        }
        Err(e) => link_error(e),
    }
}

/// `GET /__sandbox/manager/login`.
pub async fn login_form(State(state): State<AppState>) -> Response {
    if state.edge.control_token.is_empty() {
        return see_other("./");
    }
    render(
        StatusCode::OK,
        "login.html",
        context! { root => "", error => None::<&str> },
    )
}

/// `POST /__sandbox/manager/login {token}`: the session cookie for the right token.
pub async fn login(State(state): State<AppState>, params: Params) -> Response {
    let key = &state.edge.control_token;
    if key.is_empty() {
        return see_other("./");
    }
    if !key.ct_eq(field(&params, "token")) {
        return render(
            StatusCode::UNAUTHORIZED,
            "login.html",
            context! { root => "", error => Some("That token is not right.") },
        );
    }
    let mut resp = see_other("./");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&session::new_session(key))) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = templates();
        for name in [
            "index.html",
            "number.html",
            "reset.html",
            "reset_done.html",
            "error.html",
            "login.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
        let html = env
            .get_template("error.html")
            .unwrap()
            .render(context! { root => "", heading => "<x>", message => "m" })
            .unwrap();
        assert!(html.contains("&lt;x&gt;"), "auto-escaped: {html}");
    }
}
