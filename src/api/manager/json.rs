//! The Manager's JSON endpoints (docs/behaviour.md#whatsapp-manager), for tests and
//! curl: every action of the pages, under `/__sandbox/manager/api/...`, and the
//! outbox at `/__sandbox/emails`. They need the control token like the rest of
//! the control plane; the reset link's own endpoints do not (the link is the secret).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;

use crate::api::auth::ControlCaller;
use crate::api::error::{ApiError, Code};
use crate::api::params::Params;
use crate::api::timestamps::rfc3339_ms;
use crate::api::AppState;
use crate::domain::manager::outbox::{Email, SmtpStatus};
use crate::domain::manager::{LinkError, ManagerError};
use crate::domain::numbers::{Number, PhoneNumberId};

/// One number as the Manager shows it.
#[derive(Debug, Serialize)]
pub struct NumberView {
    /// Phone-number ID.
    pub id: String,
    /// The number as people read it.
    pub display_phone_number: String,
    /// The business name.
    pub verified_name: String,
    /// Registered (connected).
    pub registered: bool,
    /// Two-step is on.
    pub two_step_enabled: bool,
}

impl From<Number> for NumberView {
    fn from(n: Number) -> Self {
        NumberView {
            id: n.id.as_str().to_owned(),
            display_phone_number: n.display_phone_number,
            verified_name: n.verified_name,
            registered: n.registered,
            two_step_enabled: n.two_step_enabled,
        }
    }
}

/// `GET /__sandbox/manager/api/numbers` body.
#[derive(Debug, Serialize)]
pub struct NumbersView {
    /// Every number, the first first.
    pub numbers: Vec<NumberView>,
}

/// One email of the outbox.
#[derive(Debug, Serialize)]
pub struct EmailView {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// The reset link.
    pub link: String,
    /// RFC 3339 UTC with milliseconds.
    pub sent_at: String,
    /// `null` (no SMTP configured), `pending`, `delivered` or `failed`.
    pub smtp: Option<&'static str>,
    /// Why SMTP delivery failed, when it did.
    pub smtp_error: Option<String>,
}

impl From<Email> for EmailView {
    fn from(e: Email) -> Self {
        let (smtp, smtp_error) = match e.smtp {
            None => (None, None),
            Some(SmtpStatus::Pending) => (Some("pending"), None),
            Some(SmtpStatus::Delivered) => (Some("delivered"), None),
            Some(SmtpStatus::Failed(why)) => (Some("failed"), Some(why)),
        };
        EmailView {
            to: e.to,
            subject: e.subject,
            text: e.text,
            link: e.link,
            sent_at: rfc3339_ms(e.sent_at_ms),
            smtp,
            smtp_error,
        }
    }
}

/// `GET /__sandbox/emails` body.
#[derive(Debug, Serialize)]
pub struct EmailsView {
    /// Oldest first, newest last.
    pub emails: Vec<EmailView>,
}

/// `POST .../turn-off` body (202).
#[derive(Debug, Serialize)]
pub struct TurnOffView {
    /// The email that was sent.
    pub email: EmailView,
}

/// Two-step of one number after a change.
#[derive(Debug, Serialize)]
pub struct TwoStepView {
    /// The number.
    pub number: NumberView,
}

impl From<ManagerError> for ApiError {
    fn from(e: ManagerError) -> Self {
        match e {
            ManagerError::UnknownNumber => phone_not_found(),
            ManagerError::PinFormat(_)
            | ManagerError::CurrentPinFormat
            | ManagerError::ConfirmMismatch
            | ManagerError::WrongCurrentPin => ApiError::invalid(e.to_string()),
            ManagerError::TooManyGuesses { .. } => {
                ApiError::new(Code::TooManyRequests, e.to_string())
            }
            ManagerError::NotEnabled | ManagerError::AlreadyEnabled => {
                ApiError::new(Code::InvalidRequest, e.to_string()).with_status(StatusCode::CONFLICT)
            }
            ManagerError::Unavailable(u) => u.into(),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Unknown => ApiError::new(Code::NotFound, e.to_string()),
            LinkError::Expired => {
                ApiError::new(Code::NotFound, e.to_string()).with_status(StatusCode::GONE)
            }
            LinkError::Unavailable(u) => u.into(),
        }
    }
}

/// 404 / 1006 for a number the state does not hold.
fn phone_not_found() -> ApiError {
    ApiError::new(Code::NotFound, "Phone number does not exist")
}

/// The `{id}` of a number path; anything that names no number is 404.
pub fn number_id(path: Result<Path<String>, PathRejection>) -> Result<PhoneNumberId, ApiError> {
    let Path(id) = path.map_err(|_| phone_not_found())?;
    PhoneNumberId::parse(&id).map_err(|_| phone_not_found())
}

/// Only these keys are accepted in an action body.
fn only(params: &Params, allowed: &[&str]) -> Result<(), ApiError> {
    match params.0.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::new(
            Code::UnexpectedParameter,
            format!("Unknown parameter '{unknown}'"),
        )),
        None => Ok(()),
    }
}

/// The number after a change.
fn number_view(state: &AppState, id: &PhoneNumberId) -> Result<Json<TwoStepView>, ApiError> {
    let number = state.numbers.get(id.as_str()).ok_or_else(phone_not_found)?;
    Ok(Json(TwoStepView {
        number: number.into(),
    }))
}

/// `GET /__sandbox/manager/api/numbers`.
pub async fn numbers(State(state): State<AppState>, _c: ControlCaller) -> Json<NumbersView> {
    Json(NumbersView {
        numbers: state.numbers.list().into_iter().map(Into::into).collect(),
    })
}

/// `POST /__sandbox/manager/api/numbers/{id}/change-pin {"current_pin", "new_pin", "confirm_pin"}`.
pub async fn change_pin(
    State(state): State<AppState>,
    _c: ControlCaller,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Json<TwoStepView>, ApiError> {
    let id = number_id(path)?;
    only(&params, &["current_pin", "new_pin", "confirm_pin"])?;
    let current = params.required_str("current_pin")?;
    let new = params.required_str("new_pin")?;
    let confirm = params.required_str("confirm_pin")?;
    state.manager.change_pin(&id, current, new, confirm).await?;
    number_view(&state, &id)
}

/// `POST /__sandbox/manager/api/numbers/{id}/set-pin {"new_pin", "confirm_pin"}`.
pub async fn set_pin(
    State(state): State<AppState>,
    _c: ControlCaller,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Json<TwoStepView>, ApiError> {
    let id = number_id(path)?;
    only(&params, &["new_pin", "confirm_pin"])?;
    let new = params.required_str("new_pin")?;
    let confirm = params.required_str("confirm_pin")?;
    state.manager.set_pin(&id, new, confirm).await?;
    number_view(&state, &id)
}

/// `POST /__sandbox/manager/api/numbers/{id}/turn-off`: 202 with the email sent.
pub async fn turn_off(
    State(state): State<AppState>,
    _c: ControlCaller,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<(StatusCode, Json<TurnOffView>), ApiError> {
    let id = number_id(path)?;
    only(&params, &[])?;
    let base = state.edge.public_url.base(&headers);
    let sent = super::turn_off(&state, &id, &base).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TurnOffView { email: sent.into() }),
    ))
}

/// `GET /__sandbox/manager/api/reset/{token}`: the number the link is for; changes nothing.
pub async fn inspect_reset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TwoStepView>, ApiError> {
    let Path(token) = path.map_err(|_| ApiError::from(LinkError::Unknown))?;
    let number = state.manager.inspect_link(&token)?;
    Ok(Json(TwoStepView {
        number: number.into(),
    }))
}

/// `POST /__sandbox/manager/api/reset/{token}`: uses the link; two-step is off, durably.
pub async fn confirm_reset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TwoStepView>, ApiError> {
    let Path(token) = path.map_err(|_| ApiError::from(LinkError::Unknown))?;
    let number = super::confirm_reset(&state, &token).await?;
    Ok(Json(TwoStepView {
        number: number.into(),
    }))
}

/// `GET /__sandbox/emails`.
pub async fn list_emails(State(state): State<AppState>, _c: ControlCaller) -> Json<EmailsView> {
    Json(EmailsView {
        emails: state
            .manager
            .outbox()
            .list()
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

/// `DELETE /__sandbox/emails`: answers with the (empty) outbox, as the journal's does.
pub async fn clear_emails(State(state): State<AppState>, _c: ControlCaller) -> Json<EmailsView> {
    state.manager.outbox().clear();
    Json(EmailsView { emails: Vec::new() })
}
