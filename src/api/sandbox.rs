//! The sandbox control plane (`/__sandbox/...`, SPEC §6): not part of the real
//! API, so it lives under its own prefix. Bodies here carry no `meta`.

use axum::extract::State;
use axum::Json;

use super::auth::Control;
use super::envelope::ApiError;
use super::users::account_error;
use super::AppState;
use crate::domain::sandbox::StateView;

/// `GET /__sandbox/state`.
pub async fn state(State(state): State<AppState>, _c: Control) -> Json<StateView> {
    Json(state.sandbox.view())
}

/// `POST /__sandbox/reset`: back to the seed state, durably.
pub async fn reset(
    State(state): State<AppState>,
    _c: Control,
) -> Result<Json<StateView>, ApiError> {
    state.sandbox.reset().await.map(Json).map_err(account_error)
}
