//! Login, logout and user management (SPEC §2).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::auth::{basic_credentials, client_addr, Admin, Caller};
use super::envelope::{ApiError, Empty, Payload};
use super::params::Params;
use super::path::UserName;
use super::AppState;
use crate::api::timestamps::php_datetime;
use crate::domain::password::PASSWORD_RULE;
use crate::domain::users::AccountError;
use crate::store::state::Role;

/// Maps an account error to its status and code, in one place.
pub fn account_error(e: AccountError) -> ApiError {
    match e {
        // Callers of `login` turn this into the real server's empty-bodied 401.
        AccountError::BadCredentials => ApiError::unauthenticated(),
        AccountError::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            1015,
            "Rate limiting exceeded on bad login attempts",
        ),
        AccountError::PasswordChangeRequired => {
            ApiError::new(StatusCode::UNAUTHORIZED, 1024, "Password must be changed")
        }
        AccountError::WeakPassword(w) => ApiError::invalid(w.to_string()),
        AccountError::BadUsername(b) => ApiError::invalid(b.to_string()),
        AccountError::UserExists => {
            ApiError::new(StatusCode::CONFLICT, 1004, "User already exists")
        }
        AccountError::UserNotFound => {
            ApiError::new(StatusCode::NOT_FOUND, 1006, "User does not exist")
        }
        AccountError::AdminUndeletable => ApiError::invalid("Admin user cannot be deleted"),
        AccountError::Unavailable(u) => u.into(),
    }
}

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
/// `WWW-Authenticate`, as the real server's `.htaccess` made it (reference §1.1).
fn refused() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

/// `POST /v1/users/login` with Basic credentials and an optional `new_password`.
/// The credentials are checked before the body is read (SPEC §1 check order).
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some((username, password)) = basic_credentials(&parts.headers) else {
        return refused();
    };
    let client = client_addr(&parts, state.edge.trust_forwarded_for);
    let verified = match state
        .accounts
        .verify_login(client, &username, password)
        .await
    {
        Ok(v) => v,
        Err(AccountError::BadCredentials) => return refused(),
        Err(e) => return account_error(e).into_response(),
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
    match state.accounts.issue_token(verified, new_password).await {
        Ok(issued) => {
            let users = [IssuedToken {
                token: issued.token.expose(),
                expires_after: php_datetime(issued.expires_at),
            }];
            Payload(StatusCode::OK, LoginReply { users: &users }).into_response()
        }
        Err(AccountError::BadCredentials) => refused(),
        Err(e) => account_error(e).into_response(),
    }
}

/// `POST /v1/users/logout`: revokes the presenting token.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Empty, ApiError> {
    state
        .accounts
        .logout(caller.token.expose())
        .await
        .map_err(account_error)?;
    Ok(Empty(StatusCode::OK))
}

/// `POST /v1/users {"username", "password"}` (admin).
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Payload<serde_json::Value>, ApiError> {
    let username = params.required_str("username")?;
    let password = params.required_str("password")?;
    let name = state
        .accounts
        .create_user(username, password)
        .await
        .map_err(account_error)?;
    Ok(Payload(
        StatusCode::CREATED,
        json!({"users": [{"username": name}]}),
    ))
}

/// `GET /v1/users/{username}`: an admin reads anyone, a user only itself.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    UserName(username): UserName,
) -> Result<Payload<serde_json::Value>, ApiError> {
    if caller.principal.role != Role::Admin && caller.principal.username != username {
        return Err(ApiError::forbidden(
            "Regular user cannot read other user information",
        ));
    }
    let role = state
        .accounts
        .user_role(&username)
        .ok_or_else(|| account_error(AccountError::UserNotFound))?;
    Ok(Payload(
        StatusCode::OK,
        json!({"users": [{"username": username, "roles": role.as_str()}]}),
    ))
}

/// `PUT /v1/users/{username} {"password"}`: an admin changes anyone, a user only itself.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    UserName(username): UserName,
    params: Params,
) -> Result<Payload<serde_json::Value>, ApiError> {
    if caller.principal.role != Role::Admin && caller.principal.username != username {
        return Err(ApiError::forbidden("Regular user cannot modify other user"));
    }
    let password = params.required_str("password")?;
    state
        .accounts
        .change_password(&username, password)
        .await
        .map_err(account_error)?;
    Ok(Payload(
        StatusCode::OK,
        json!({"users": [{"username": username}]}),
    ))
}

/// `DELETE /v1/users/{username}` (admin): removes the user and revokes its tokens.
pub async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    UserName(username): UserName,
) -> Result<Payload<serde_json::Value>, ApiError> {
    state
        .accounts
        .delete_user(&username)
        .await
        .map_err(account_error)?;
    Ok(Payload(
        StatusCode::OK,
        json!({"users": [{"username": username}]}),
    ))
}
