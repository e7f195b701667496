//! The sandbox control plane (`/__sandbox/...`, SPEC §6): not part of the real
//! API, so it lives under its own prefix. Bodies here carry no `meta`.

use axum::extract::{RawQuery, State};
use axum::Json;

use super::auth::Control;
use super::envelope::ApiError;
use super::journal::reset_clears_journal;
use super::users::account_error;
use super::AppState;
use crate::domain::control::StateView;

/// `GET /__sandbox/state`.
pub async fn state(State(state): State<AppState>, _c: Control) -> Json<StateView> {
    Json(state.sandbox.view())
}

/// `POST /__sandbox/reset`: back to the seed state, durably, with no faults
/// left; the journal is kept unless `?journal=true`.
pub async fn reset(
    State(state): State<AppState>,
    _c: Control,
    query: RawQuery,
) -> Result<Json<StateView>, ApiError> {
    let clear_journal = reset_clears_journal(&query)?;
    let view = state.sandbox.reset().await.map_err(account_error)?;
    state.faults.clear();
    if clear_journal {
        state.journal.clear();
    }
    Ok(Json(view))
}
