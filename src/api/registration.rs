//! Phone registration: `POST /v1/account` and `POST /v1/account/verify` (docs/behaviour.md#registration),
//! admin only. The field checks are here; the PIN guard is the domain's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::auth::Admin;
use super::envelope::{Empty, Payload};
use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::domain::registration::Registered;

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `POST /v1/account {"cc","phone_number","method","cert","pin"?}`.
pub async fn register(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Response, ApiError> {
    let cc = params.required_str("cc")?;
    let phone_number = params.required_str("phone_number")?;
    let method = params.required_str("method")?;
    let cert = params.required_str("cert")?;
    if !digits(cc) || cc.len() > 3 {
        return Err(ApiError::invalid("Parameter 'cc' must be 1 to 3 digits"));
    }
    if !digits(phone_number) {
        return Err(ApiError::invalid("Parameter 'phone_number' must be digits"));
    }
    if method != "sms" && method != "voice" {
        return Err(ApiError::invalid(
            "Parameter 'method' must be 'sms' or 'voice'",
        ));
    }
    if base64::engine::general_purpose::STANDARD
        .decode(cert.trim())
        .map_or(true, |c| c.is_empty())
    {
        return Err(ApiError::invalid("Parameter 'cert' must be base64"));
    }
    let outcome = state
        .registration
        .register(cc, phone_number, params.get("pin"))
        .await?;
    Ok(match outcome {
        Registered::Already => Empty(StatusCode::CREATED).into_response(),
        Registered::CodeSent => Payload(
            StatusCode::ACCEPTED,
            json!({"account": [{"vname": state.registration.vname()}]}),
        )
        .into_response(),
    })
}

/// `POST /v1/account/verify {"code"}`.
pub async fn verify(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Empty, ApiError> {
    let code = params.required_str("code")?;
    state.registration.verify(code).await?;
    Ok(Empty(StatusCode::CREATED))
}
