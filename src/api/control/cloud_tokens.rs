//! `POST /__sandbox/cloud/tokens {"scopes"?, "expires_in"?}` (docs/behaviour.md#control-plane):
//! a Cloud access token in one command, for tests and curl. The answer is the
//! only place the token ever appears; the state keeps its digest, durably before
//! the 201.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::api::auth::ControlCaller;
use crate::api::error::{ApiError, Code};
use crate::api::params::Params;
use crate::api::timestamps::rfc3339_ms;
use crate::api::AppState;
use crate::domain::cloud_tokens::Scope;

/// The keys a mint body may have.
const PARAMS: [&str; 2] = ["scopes", "expires_in"];
/// The longest lifetime asked for: ten years, as for On-Premises tokens.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 86_400;

/// `201` body.
#[derive(Debug, Serialize)]
pub struct MintedView {
    /// The token: shown once.
    pub access_token: String,
    /// Its scopes.
    pub scopes: Vec<&'static str>,
    /// Its expiry, RFC 3339 UTC with milliseconds; `null`: never.
    pub expires_at: Option<String>,
}

fn scopes_error() -> ApiError {
    ApiError::invalid(
        "Parameter 'scopes' must list one or more of whatsapp_business_management, whatsapp_business_messaging",
    )
}

/// `scopes`: a JSON array of names, or one string of comma-separated names (a
/// form body); absent or `null`: both.
fn scopes(params: &Params) -> Result<Vec<Scope>, ApiError> {
    let names: Vec<String> = match params.get("scopes") {
        None | Some(Value::Null) => return Ok(Scope::ALL.to_vec()),
        Some(Value::String(s)) => s.split(',').map(|n| n.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(scopes_error))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(scopes_error()),
    };
    let scopes: Vec<Scope> = names
        .iter()
        .map(|n| Scope::parse(n).ok_or_else(scopes_error))
        .collect::<Result<_, _>>()?;
    if scopes.is_empty() {
        return Err(scopes_error());
    }
    Ok(scopes)
}

/// `expires_in`: seconds from now (0: already expired, to test expiry); absent or
/// `null`: never.
fn expires_in(params: &Params) -> Result<Option<u64>, ApiError> {
    let n = match params.get("expires_in") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Some(_) => None,
    };
    match n {
        Some(n) if n <= MAX_EXPIRES_IN => Ok(Some(n)),
        _ => Err(ApiError::invalid(format!(
            "Parameter 'expires_in' must be an integer from 0 to {MAX_EXPIRES_IN}"
        ))),
    }
}

/// `POST /__sandbox/cloud/tokens`.
pub async fn mint(
    State(state): State<AppState>,
    _c: ControlCaller,
    params: Params,
) -> Result<(StatusCode, Json<MintedView>), ApiError> {
    if let Some(unknown) = params.0.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(ApiError::new(
            Code::UnexpectedParameter,
            format!("Unknown parameter '{unknown}'"),
        ));
    }
    let scopes = scopes(&params)?;
    let expires_in = expires_in(&params)?;
    let minted = state.cloud_tokens.mint(scopes, expires_in).await?;
    Ok((
        StatusCode::CREATED,
        Json(MintedView {
            access_token: minted.token.expose().to_owned(),
            scopes: minted.scopes.iter().map(|s| s.as_str()).collect(),
            expires_at: minted.expires_at.map(|s| rfc3339_ms(s * 1000)),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Params {
        Params(v.as_object().unwrap().clone())
    }

    #[test]
    fn scopes_and_expiry_are_read_from_json_or_form_values() {
        assert_eq!(scopes(&p(json!({}))).unwrap(), Scope::ALL.to_vec());
        assert_eq!(
            scopes(&p(json!({"scopes": ["whatsapp_business_messaging"]}))).unwrap(),
            vec![Scope::Messaging]
        );
        assert_eq!(
            scopes(&p(
                json!({"scopes": "whatsapp_business_management, whatsapp_business_messaging"})
            ))
            .unwrap(),
            Scope::ALL.to_vec()
        );
        for bad in [json!([]), json!(["ads"]), json!(7), json!([1])] {
            assert_eq!(scopes(&p(json!({"scopes": bad}))).unwrap_err().code, 1009);
        }
        assert_eq!(expires_in(&p(json!({"expires_in": 0}))).unwrap(), Some(0));
        assert_eq!(
            expires_in(&p(json!({"expires_in": "60"}))).unwrap(),
            Some(60)
        );
        assert_eq!(expires_in(&p(json!({"expires_in": null}))).unwrap(), None);
        for bad in [
            json!(-1),
            json!(1.5),
            json!("1h"),
            json!(MAX_EXPIRES_IN + 1),
        ] {
            assert_eq!(
                expires_in(&p(json!({"expires_in": bad}))).unwrap_err().code,
                1009
            );
        }
    }
}
