//! User management: `POST /v1/users` and `GET`/`PUT`/`DELETE /v1/users/{username}`
//! (docs/behaviour.md#users-login-and-tokens). Logging in and out is `login`.

use axum::extract::State;
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
