//! `POST` / `DELETE /v1/settings/account/two-step` (docs/behaviour.md#two-step-verification), admin only.
//! They act on the first number, the one the On-Premises API emulates.

use axum::extract::State;
use axum::http::StatusCode;

use super::auth::Admin;
use super::envelope::Empty;
use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::domain::pin::Pin;

/// Enables two-step verification or changes the PIN.
pub async fn enable(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Empty, ApiError> {
    let value = params.get("pin").ok_or_else(|| ApiError::missing("pin"))?;
    let pin = Pin::from_json(value)?;
    state
        .two_step
        .enable(&state.numbers.first_id(), pin)
        .await?;
    Ok(Empty(StatusCode::OK))
}

/// Disables two-step verification. The body, if any, is ignored (docs/behaviour.md#parameters).
pub async fn disable(State(state): State<AppState>, _admin: Admin) -> Result<Empty, ApiError> {
    state.two_step.disable(&state.numbers.first_id()).await?;
    Ok(Empty(StatusCode::OK))
}
