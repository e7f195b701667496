//! The control-plane handlers: `/__sandbox/state`, `/__sandbox/reset`,
//! `/__sandbox/requests` and `/__sandbox/faults`. Each checks the control token
//! ([`ControlCaller`]) and calls a registry or the domain's control service.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;

use super::fault_request::parse;
use super::faults::{Fault, MAX_FAULTS};
use super::views::{FaultList, JournalView, StateView};
use crate::api::auth::ControlCaller;
use crate::api::error::ApiError;
use crate::api::params::Params;
use crate::api::AppState;
use crate::domain::control::ResetOptions;

/// `GET /__sandbox/state`.
pub async fn state(
    State(state): State<AppState>,
    _c: ControlCaller,
) -> Result<Json<StateView>, ApiError> {
    Ok(Json(state.control.overview().await?.into()))
}

/// `POST /__sandbox/reset`: back to the seed state, durably, with no faults
/// left; the journal is kept unless `?journal=true`.
pub async fn reset(
    State(state): State<AppState>,
    _c: ControlCaller,
    query: RawQuery,
) -> Result<Json<StateView>, ApiError> {
    let options = reset_options(&query)?;
    let overview = state.control.reset(options).await?;
    Ok(Json(overview.into()))
}

/// Reads `?journal=true|false` of `POST /__sandbox/reset` (absent: false).
fn reset_options(query: &RawQuery) -> Result<ResetOptions, ApiError> {
    let mut options = ResetOptions::default();
    let Some(query) = query.0.as_deref() else {
        return Ok(options);
    };
    let bad = || ApiError::invalid("Query parameter 'journal' must be true or false");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| bad())?;
    for (key, value) in pairs {
        if key != "journal" {
            continue;
        }
        options.clear_journal = match value.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad()),
        };
    }
    Ok(options)
}

/// `GET /__sandbox/requests`.
pub async fn list_requests(State(state): State<AppState>, _c: ControlCaller) -> Json<JournalView> {
    Json(JournalView {
        capacity: state.journal.capacity(),
        requests: state.journal.entries(),
    })
}

/// `DELETE /__sandbox/requests`: empties the journal, answers with the empty view.
pub async fn clear_requests(State(state): State<AppState>, _c: ControlCaller) -> Json<JournalView> {
    state.journal.clear();
    Json(JournalView {
        capacity: state.journal.capacity(),
        requests: Vec::new(),
    })
}

/// `POST /__sandbox/faults`: 201 with the new fault.
pub async fn create_fault(
    State(state): State<AppState>,
    _c: ControlCaller,
    params: Params,
) -> Result<(StatusCode, Json<Fault>), ApiError> {
    let spec = parse(&params)?;
    let fault = state
        .faults
        .add(spec)
        .ok_or_else(|| ApiError::invalid(format!("At most {MAX_FAULTS} faults can be active")))?;
    Ok((StatusCode::CREATED, Json(fault)))
}

/// `GET /__sandbox/faults`.
pub async fn list_faults(State(state): State<AppState>, _c: ControlCaller) -> Json<FaultList> {
    Json(FaultList {
        faults: state.faults.list(),
    })
}

/// `DELETE /__sandbox/faults`: removes every fault.
pub async fn clear_faults(State(state): State<AppState>, _c: ControlCaller) -> Json<FaultList> {
    state.faults.clear();
    Json(FaultList { faults: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_query_reads_journal_true_or_false() {
        let q = |s: Option<&str>| {
            reset_options(&RawQuery(s.map(str::to_owned))).map(|o| o.clear_journal)
        };
        assert!(!q(None).unwrap());
        assert!(q(Some("journal=true")).unwrap());
        assert!(!q(Some("journal=false")).unwrap());
        assert!(!q(Some("other=1")).unwrap());
        assert_eq!(q(Some("journal=yes")).unwrap_err().code, 1009);
    }
}
