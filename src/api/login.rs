//! `POST /v1/users/login` and `POST /v1/users/logout`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::{basic_credentials, client_addr, Caller};
use super::envelope::{Empty, Payload};
use super::error::ApiError;
use super::params::Params;
use super::timestamps::php_datetime;
use super::AppState;
use crate::domain::password::PASSWORD_RULE;
use crate::domain::users::UserError;

/// One token in a login reply; `token` first, as the real server wrote it.
#[derive(Serialize)]
struct IssuedToken<'a> {
    token: &'a str,
    expires_after: String,
}

/// `{"users": [{"token", "expires_after"}]}`
#[derive(Serialize)]
struct LoginReply<'a> {
    users: &'a [IssuedToken<'a>],
}

/// Wrong or missing Basic credentials: 401 with an empty body and no
/// `WWW-Authenticate`, as the real server's `.htaccess` made it (docs/on-premises.md#login-and-tokens).
fn refused() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

/// `POST /v1/users/login` with Basic credentials and an optional `new_password`.
/// The credentials are checked before the body is read (docs/behaviour.md#check-order).
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let client = client_addr(
        &parts,
        state.edge.trust_forwarded_for,
        state.edge.proxy_hops,
    );
    let Some((username, password)) = basic_credentials(&parts.headers) else {
        // Still a login attempt: a blocked address gets 429 whatever it sends.
        return match state.users.login_blocked(client).await {
            Ok(false) => refused(),
            Ok(true) => ApiError::from(UserError::RateLimited).into_response(),
            Err(e) => ApiError::from(e).into_response(),
        };
    };
    let verified = match state.users.verify_login(client, &username, password).await {
        Ok(v) => v,
        Err(UserError::BadCredentials) => return refused(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let limit = state.edge.body_limit_bytes;
    let params = match Params::read(Request::from_parts(parts, body), limit).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let new_password = match params.optional_str("new_password") {
        Ok(p) => p,
        Err(_) => return ApiError::invalid(PASSWORD_RULE).into_response(),
    };
    match state.users.issue_token(verified, new_password).await {
        Ok(issued) => {
            let users = [IssuedToken {
                token: issued.token.expose(),
                expires_after: php_datetime(issued.expires_at),
            }];
            Payload(StatusCode::OK, LoginReply { users: &users }).into_response()
        }
        Err(UserError::BadCredentials) => refused(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /v1/users/logout`: revokes the presenting token. It takes no parameters,
/// but its body is read like any other (413, 1025), as the real server decoded it.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    _body: Params,
) -> Result<Empty, ApiError> {
    state.users.logout(caller.token.expose()).await?;
    Ok(Empty(StatusCode::OK))
}
