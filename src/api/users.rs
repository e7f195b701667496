//! User management: `POST /v1/users` and `GET`/`PUT`/`DELETE /v1/users/{username}`
//! (docs/behaviour.md#users-login-and-tokens). Logging in and out is `login`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::json;

use super::auth::{Admin, Caller};
use super::envelope::Payload;
use super::error::ApiError;
use super::params::Params;
use super::path::UserName;
use super::AppState;
use crate::domain::users::{Role, UserError};

/// `POST /v1/users {"username", "password"}` (admin).
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Payload<serde_json::Value>, ApiError> {
    let username = params.required_str("username")?;
    let password = params.required_str("password")?;
    let name = state.users.create_user(username, password).await?;
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
        .users
        .user_role(&username)
        .ok_or(UserError::UserNotFound)?;
    Ok(Payload(
        StatusCode::OK,
        json!({"users": [{"username": username, "roles": role.as_str()}]}),
    ))
}

/// The user a `PUT` names, once the caller may change it: an admin anyone, a user
/// only itself. An extractor of the request head, so the role is checked before
/// the body is read (403 before 413 and 1025, the check order of every route).
pub struct Changeable(String);

impl FromRequestParts<AppState> for Changeable {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Ok(UserName(username)) = UserName::from_request_parts(parts, state).await;
        if caller.principal.role != Role::Admin && caller.principal.username != username {
            return Err(ApiError::forbidden("Regular user cannot modify other user"));
        }
        Ok(Changeable(username))
    }
}

/// `PUT /v1/users/{username} {"password"}`: an admin changes anyone, a user only itself.
pub async fn update(
    State(state): State<AppState>,
    Changeable(username): Changeable,
    params: Params,
) -> Result<Payload<serde_json::Value>, ApiError> {
    let password = params.required_str("password")?;
    state.users.change_password(&username, password).await?;
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
    state.users.delete_user(&username).await?;
    Ok(Payload(
        StatusCode::OK,
        json!({"users": [{"username": username}]}),
    ))
}
