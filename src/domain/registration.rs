//! Registration (docs/behaviour.md#registration): the guard that the two-step PIN exists for. Re-registering
//! while two-step is on needs the right PIN, and wrong guesses are limited.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::limiter::Budget;
use super::pin::{Pin, PinError};
use super::two_step::TwoStep;
use super::{flatten, Unavailable};
use crate::config::AccountSettings;
use crate::store::state::AccountRecord;
use crate::store::{Op, Store};

/// Why a registration request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// Two-step is on and no PIN was given (400 / 1008).
    #[error("pin missing")]
    PinMissing,
    /// The PIN is not a PIN at all (400 / 1009).
    #[error(transparent)]
    PinFormat(#[from] PinError),
    /// The PIN is not the two-step PIN (400 / 1009).
    #[error("Two-step verification PIN mismatch")]
    PinMismatch,
    /// Too many wrong PINs this hour (429 / 1015).
    #[error("Too many two-step verification PIN guesses")]
    TooManyGuesses,
    /// The verification code is wrong (400 / 1009).
    #[error("Verification code is not valid")]
    BadCode,
    /// Overload or an internal failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// What a registration request did.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// The number asked for is the registered one (201).
    Already,
    /// A code was "sent" (202) for the verified name.
    CodeSent,
}

/// The registration service.
#[derive(Debug)]
pub struct Registration {
    /// Durable state.
    store: Arc<Store>,
    /// The PIN check.
    two_step: Arc<TwoStep>,
    /// Wrong PIN guesses: one budget for the number, as the guard protects the
    /// number (shared by every server with a database).
    guesses: Budget<&'static str>,
    /// `[account]` settings.
    settings: AccountSettings,
}

/// The one key of the guess budget: the emulated number has a single budget.
const NUMBER: &str = "number";

impl Registration {
    /// Builds the service.
    pub fn new(store: Arc<Store>, two_step: Arc<TwoStep>, settings: &AccountSettings) -> Self {
        Registration {
            guesses: Budget::new(
                &store,
                "pin_guesses",
                settings.max_pin_guesses,
                Duration::from_secs(3600),
                1,
            ),
            store,
            two_step,
            settings: settings.clone(),
        }
    }

    /// The verified name a registration reports.
    pub fn vname(&self) -> &str {
        &self.settings.vname
    }

    /// Whether the emulated number is registered.
    pub fn is_registered(&self) -> bool {
        self.store.read(|s| s.account.registered)
    }

    /// Forgets wrong-guess counts (control-plane reset).
    pub async fn clear_guesses(&self) -> Result<(), Unavailable> {
        self.guesses.clear().await
    }

    /// `POST /v1/account` after its fields were validated: checks the PIN guard.
    pub async fn register(
        &self,
        cc: &str,
        phone_number: &str,
        pin: Option<&Value>,
    ) -> Result<Registered, RegistrationError> {
        if self.two_step.is_enabled() {
            let pin = Pin::from_json(pin.ok_or(RegistrationError::PinMissing)?)?;
            if self.guesses.is_blocked(&NUMBER).await? {
                return Err(RegistrationError::TooManyGuesses);
            }
            if !self.two_step.verify(&pin).await? {
                self.guesses.record(&NUMBER).await?;
                return Err(RegistrationError::PinMismatch);
            }
        }
        if self.is_registered()
            && cc == self.settings.cc
            && phone_number == self.settings.phone_number
        {
            Ok(Registered::Already)
        } else {
            Ok(Registered::CodeSent)
        }
    }

    /// `POST /v1/account/verify`: the right code registers the number, durably.
    pub async fn verify(&self, code: &str) -> Result<(), RegistrationError> {
        if !self.settings.verify_code.ct_eq(code) {
            return Err(RegistrationError::BadCode);
        }
        self.store
            .commit(|tx| {
                if !tx.state().account.registered {
                    let account = AccountRecord { registered: true };
                    tx.push(Op::SetAccount { account });
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }
}
