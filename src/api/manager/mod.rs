//! WhatsApp Manager's edge (docs/behaviour.md#whatsapp-manager): [`json`] (the
//! JSON endpoints and the outbox), [`pages`] (the HTML pages, templates in
//! `templates/`), [`session`] (their login and CSRF tokens) and [`webhooks`]
//! (the `security` webhook's queue and sender) and [`smtp`] (email delivery). The actions shared by the JSON endpoints and
//! the pages live here, so both do the same after a change (SMTP delivery, the
//! security webhook).

pub mod json;
pub mod pages;
pub mod session;
pub mod smtp;
pub mod webhooks;

use crate::api::AppState;
use crate::domain::manager::outbox::{Email, SmtpStatus};
use crate::domain::manager::{LinkError, ManagerError};
use crate::domain::numbers::{Number, PhoneNumberId};

/// Turn off: the link is stored, the email is in the outbox.
pub async fn turn_off(
    state: &AppState,
    id: &PhoneNumberId,
    base: &str,
) -> Result<Email, ManagerError> {
    let sent = state.manager.request_turn_off(id, base).await?;
    let mut email = sent.email;
    if let Some(addr) = &state.edge.smtp_addr {
        email.smtp = Some(SmtpStatus::Pending);
        smtp::spawn(
            addr.clone(),
            state.manager.outbox().clone(),
            sent.outbox_id,
            email.clone(),
        );
    }
    Ok(email)
}

/// The reset link used: two-step is off.
pub async fn confirm_reset(state: &AppState, token: &str) -> Result<Number, LinkError> {
    state.manager.confirm_reset(token).await
}
