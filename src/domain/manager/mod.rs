//! WhatsApp Manager (docs/behaviour.md#whatsapp-manager): the side of two-step
//! verification that happens outside the API. Change PIN needs the current PIN
//! (a wrong one spends the number's guess budget, the one registration uses);
//! Set PIN works while two-step is off; Turn off mails a one-time reset link to
//! `manager.business_email`, and confirming the link disables two-step.
//!
//! A link is 256 random bits; the state keeps only its SHA-256 digest, with the
//! number and the expiry, so pending links survive a restart and a leaked state
//! file opens nothing. Any new PIN, through any flavor, voids the number's links
//! (the store's `SetNumberTwoStep` does it). The emails go to the [`outbox`].

pub mod outbox;

use std::sync::Arc;

use super::numbers::{Number, PhoneNumberId};
use super::pin::{Pin, PinError};
use super::registration::{Registration, RegistrationError};
use super::two_step::{TwoStep, TwoStepError};
use super::users::tokens::token_digest;
use super::{flatten, Unavailable};
use crate::clock::{now_ms, now_secs};
use crate::config::ManagerSettings;
use crate::store::state::{ResetLinkRecord, TwoStepRecord};
use crate::store::{Op, Store};
use outbox::{Email, Outbox};

/// The reset email's subject, as WhatsApp Manager sends it (docs/cloud.md#whatsapp-manager-and-the-security-webhook).
pub const RESET_SUBJECT: &str = "WhatsApp Two-Step Verification Reset";

/// The path of a reset link below the public base, before the token.
pub const RESET_PATH: &str = "/__sandbox/manager/reset/";

/// Why a Manager action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The state holds no number with that ID.
    #[error("no such phone number")]
    UnknownNumber,
    /// A new PIN is not six digits.
    #[error("The new PIN must be 6 digits")]
    PinFormat(PinError),
    /// The current PIN given is not six digits (it cannot be right).
    #[error("The current PIN must be 6 digits")]
    CurrentPinFormat,
    /// The confirmation differs from the new PIN.
    #[error("The PINs you entered don't match")]
    ConfirmMismatch,
    /// The current PIN is wrong (it counted one guess).
    #[error("The current PIN is incorrect")]
    WrongCurrentPin,
    /// The number's guesses are used up.
    #[error("Too many incorrect PINs. Try again later")]
    TooManyGuesses {
        /// Until the budget opens again.
        retry_after: std::time::Duration,
    },
    /// Change PIN or Turn off while two-step is off.
    #[error("Two-step verification is off for this number")]
    NotEnabled,
    /// Set PIN while two-step is on (Change PIN needs the current PIN).
    #[error("Two-step verification is already on for this number")]
    AlreadyEnabled,
    /// Overload or an internal failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

impl From<TwoStepError> for ManagerError {
    fn from(e: TwoStepError) -> Self {
        match e {
            TwoStepError::UnknownNumber => ManagerError::UnknownNumber,
            TwoStepError::Unavailable(u) => ManagerError::Unavailable(u),
        }
    }
}

/// Why a reset link does not work.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Never issued, already used, or voided by a new PIN.
    #[error(
        "This link is not valid. It may have been used already, or the PIN was changed since."
    )]
    Unknown,
    /// Past `manager.reset_link_ttl_secs`.
    #[error("This link has expired.")]
    Expired,
    /// Overload or an internal failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// A Manager event the `security` webhook reports (docs/cloud.md#whatsapp-manager-and-the-security-webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// A PIN was set or changed.
    PinChanged,
    /// Turn off was requested (a reset email sent).
    PinResetRequest,
    /// A reset link was used: two-step is off.
    PinResetSuccess,
}

impl SecurityEvent {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityEvent::PinChanged => "PIN_CHANGED",
            SecurityEvent::PinResetRequest => "PIN_RESET_REQUEST",
            SecurityEvent::PinResetSuccess => "PIN_RESET_SUCCESS",
        }
    }
}

/// Where security events go once their change is durable (the `security`
/// webhook, when `cloud.webhook_url` is set). Must not block: the caller is
/// answering a request.
pub trait SecuritySink: Send + Sync + std::fmt::Debug {
    /// Reports `event` for the number `display_phone_number`; `requester` is the
    /// business email on reset requests.
    fn emit(&self, event: SecurityEvent, display_phone_number: &str, requester: Option<&str>);
}

/// A sink that drops everything (no webhook configured).
#[derive(Debug, Default)]
pub struct NoEvents;

impl SecuritySink for NoEvents {
    fn emit(&self, _: SecurityEvent, _: &str, _: Option<&str>) {}
}

/// The Manager service.
#[derive(Debug)]
pub struct Manager {
    /// Durable state.
    store: Arc<Store>,
    /// Setting the PIN.
    two_step: Arc<TwoStep>,
    /// The PIN guard and its budget.
    registration: Arc<Registration>,
    /// Sent emails.
    outbox: Arc<Outbox>,
    /// `manager.business_email`.
    business_email: String,
    /// `manager.reset_link_ttl_secs`.
    ttl_secs: i64,
    /// Security events.
    events: Arc<dyn SecuritySink>,
}

/// What a Turn off request produced.
#[derive(Debug)]
pub struct ResetRequested {
    /// The email as it was put in the outbox.
    pub email: Email,
    /// Its outbox sequence number (for the SMTP outcome).
    pub outbox_id: u64,
}

/// A PIN field from a form or a JSON body: six digits.
fn new_pin(s: &str) -> Result<Pin, ManagerError> {
    Pin::parse(s).map_err(ManagerError::PinFormat)
}

impl Manager {
    /// Builds the service.
    pub fn new(
        store: Arc<Store>,
        two_step: Arc<TwoStep>,
        registration: Arc<Registration>,
        outbox: Arc<Outbox>,
        settings: &ManagerSettings,
        events: Arc<dyn SecuritySink>,
    ) -> Manager {
        Manager {
            store,
            two_step,
            registration,
            outbox,
            business_email: settings.business_email.clone(),
            ttl_secs: i64::try_from(settings.reset_link_ttl_secs).unwrap_or(i64::MAX / 2),
            events,
        }
    }

    /// `manager.business_email`.
    pub fn business_email(&self) -> &str {
        &self.business_email
    }

    /// The outbox.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// The number `id`, if the state holds it.
    fn number(&self, id: &PhoneNumberId) -> Result<Number, ManagerError> {
        self.store
            .read(|s| s.number(id.as_str()).map(Number::of))
            .ok_or(ManagerError::UnknownNumber)
    }

    /// Change PIN: `current` must be the number's PIN; `new` and `confirm` must be
    /// the same six digits. The form is checked first, so a typo in the new PIN
    /// spends no guess; then the current PIN goes through the registration guard.
    pub async fn change_pin(
        &self,
        id: &PhoneNumberId,
        current: &str,
        new: &str,
        confirm: &str,
    ) -> Result<(), ManagerError> {
        if !self.number(id)?.two_step_enabled {
            return Err(ManagerError::NotEnabled);
        }
        let pin = new_pin(new)?;
        if new != confirm {
            return Err(ManagerError::ConfirmMismatch);
        }
        // A current PIN that is not six digits cannot be right: a form mistake, like
        // a malformed PIN at registration, which spends no guess either.
        let current = Pin::parse(current).map_err(|_| ManagerError::CurrentPinFormat)?;
        match self.registration.check_pin(id, &current).await {
            Ok(()) => {}
            Err(RegistrationError::TooManyGuesses { retry_after }) => {
                return Err(ManagerError::TooManyGuesses { retry_after })
            }
            Err(RegistrationError::Unavailable(u)) => return Err(ManagerError::Unavailable(u)),
            Err(RegistrationError::UnknownNumber) => return Err(ManagerError::UnknownNumber),
            Err(_) => return Err(ManagerError::WrongCurrentPin),
        }
        self.two_step.enable(id, pin).await?;
        Ok(())
    }

    /// Set PIN while two-step is off.
    pub async fn set_pin(
        &self,
        id: &PhoneNumberId,
        new: &str,
        confirm: &str,
    ) -> Result<(), ManagerError> {
        if self.number(id)?.two_step_enabled {
            return Err(ManagerError::AlreadyEnabled);
        }
        let pin = new_pin(new)?;
        if new != confirm {
            return Err(ManagerError::ConfirmMismatch);
        }
        self.two_step.enable(id, pin).await?;
        Ok(())
    }

    /// Turn off two-step verification: stores a new link's digest (durably) and
    /// mails the link, `base` + [`RESET_PATH`] + token, to the business email.
    pub async fn request_turn_off(
        &self,
        id: &PhoneNumberId,
        base: &str,
    ) -> Result<ResetRequested, ManagerError> {
        let number = self.number(id)?;
        if !number.two_step_enabled {
            return Err(ManagerError::NotEnabled);
        }
        let token = super::users::tokens::new_token();
        let digest = token_digest(token.expose());
        let link = ResetLinkRecord {
            number: id.as_str().to_owned(),
            expires_at: now_secs().saturating_add(self.ttl_secs),
        };
        let wanted = id.as_str().to_owned();
        self.store
            .commit(move |tx| {
                let on = tx.state().number(&wanted).map(|n| n.two_step.enabled);
                match on {
                    None => return Err(ManagerError::UnknownNumber),
                    Some(false) => return Err(ManagerError::NotEnabled),
                    Some(true) => {}
                }
                tx.push(Op::PutResetLink { digest, link });
                Ok(())
            })
            .await
            .map_err(flatten)?;
        let link = format!(
            "{}{RESET_PATH}{}",
            base.trim_end_matches('/'),
            token.expose()
        );
        let text = format!(
            "Someone asked to turn off two-step verification for the WhatsApp number {} ({}).\n\n\
             To turn it off, open this link and confirm:\n{link}\n\n\
             The link works once and expires in {} hours. If you did not ask for this, ignore this email.\n",
            number.display_phone_number,
            number.verified_name,
            self.ttl_secs / 3600,
        );
        let email = Email {
            to: self.business_email.clone(),
            subject: RESET_SUBJECT.to_owned(),
            text,
            link,
            sent_at_ms: now_ms(),
            smtp: None,
        };
        let outbox_id = self.outbox.push(email.clone());
        self.events.emit(
            SecurityEvent::PinResetRequest,
            &number.display_phone_number,
            Some(&self.business_email),
        );
        Ok(ResetRequested { email, outbox_id })
    }

    /// The number a reset link would turn two-step off for. Changes nothing: mail
    /// scanners open links.
    pub fn inspect_link(&self, token: &str) -> Result<Number, LinkError> {
        let digest = token_digest(token);
        let now = now_secs();
        self.store.read(|s| {
            let link = s.reset_links.get(&digest).ok_or(LinkError::Unknown)?;
            if link.expires_at <= now {
                return Err(LinkError::Expired);
            }
            s.number(&link.number)
                .map(Number::of)
                .ok_or(LinkError::Unknown)
        })
    }

    /// Uses a reset link: disables two-step on its number, durably, and removes
    /// the number's links, in one change, so a link works once.
    pub async fn confirm_reset(&self, token: &str) -> Result<Number, LinkError> {
        let digest = token_digest(token);
        let now = now_secs();
        let number = self
            .store
            .commit(move |tx| {
                let state = tx.state();
                let link = state.reset_links.get(&digest).ok_or(LinkError::Unknown)?;
                if link.expires_at <= now {
                    return Err(LinkError::Expired);
                }
                let number = link.number.clone();
                let record = state.number(&number).ok_or(LinkError::Unknown)?;
                let mut shown = Number::of(record);
                let mine: Vec<String> = state
                    .reset_links
                    .iter()
                    .filter(|(_, l)| l.number == number)
                    .map(|(d, _)| d.clone())
                    .collect();
                for digest in mine {
                    tx.push(Op::DeleteResetLink { digest });
                }
                let two_step = TwoStepRecord {
                    enabled: false,
                    pin_hash: None,
                    updated_at_ms: Some(now_ms()),
                };
                shown.two_step_enabled = false;
                shown.two_step_updated_at_ms = two_step.updated_at_ms;
                tx.push(Op::SetNumberTwoStep { number, two_step });
                Ok(shown)
            })
            .await
            .map_err(flatten)?;
        self.events.emit(
            SecurityEvent::PinResetSuccess,
            &number.display_phone_number,
            None,
        );
        Ok(number)
    }

    /// Pending (unexpired) reset links of `id`.
    pub fn pending_links(&self, id: &PhoneNumberId) -> usize {
        let now = now_secs();
        self.store.read(|s| {
            s.reset_links
                .values()
                .filter(|l| l.number == id.as_str() && l.expires_at > now)
                .count()
        })
    }
}
