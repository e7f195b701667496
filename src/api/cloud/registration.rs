//! Register and deregister a number (docs/behaviour.md#cloud-endpoints,
//! docs/cloud.md#registration): `POST /{version}/{PHONE_NUMBER_ID}/register`
//! `{"messaging_product": "whatsapp", "pin", "data_localization_region"?}` and
//! `POST /{version}/{PHONE_NUMBER_ID}/deregister`. The PIN guard, its guess budget
//! (shared with `/v1/account`) and the register/deregister budget are the domain's.

use axum::response::Response;

use super::envelope::{Ctx, GraphError};
use super::params::Params;
use super::OpError;
use crate::api::AppState;
use crate::domain::numbers::PhoneNumberId;

/// `POST /{version}/{PHONE_NUMBER_ID}/register`.
pub async fn register(
    state: &AppState,
    ctx: &Ctx,
    number: &PhoneNumberId,
    params: Params<'_>,
) -> Result<Response, OpError> {
    let product = params
        .text("messaging_product")
        .ok_or_else(|| GraphError::missing("messaging_product"))?;
    if params.get("pin").is_none() {
        return Err(GraphError::missing("pin").into());
    }
    if product != "whatsapp" {
        return Err(GraphError::invalid("Param messaging_product must be 'whatsapp'").into());
    }
    let pin = params.pin()?;
    if let Some(region) = params.text("data_localization_region") {
        let iso = region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase());
        if !iso {
            return Err(GraphError::invalid(
                "Param data_localization_region must be an ISO 3166 alpha-2 country code, such as DE",
            )
            .into());
        }
    }
    state.registration.register_with_pin(number, pin).await?;
    Ok(ctx.success())
}

/// `POST /{version}/{PHONE_NUMBER_ID}/deregister`: no parameters.
pub async fn deregister(
    state: &AppState,
    ctx: &Ctx,
    number: &PhoneNumberId,
) -> Result<Response, OpError> {
    state.registration.deregister(number).await?;
    Ok(ctx.success())
}
