//! Registration (docs/behaviour.md#registration): the guard that the two-step PIN
//! exists for. Re-registering a number while two-step is on needs its PIN, and
//! wrong guesses are limited per number, with one budget whichever flavor asks
//! (`account.max_pin_guesses` per hour). Registering with a PIN while two-step is
//! off makes that PIN the number's (docs/cloud.md#registration); register and
//! deregister share a moving 72-hour budget per number (`cloud.max_registrations`).
//! Both budgets live in memory and are cleared by a reset.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::hasher::Hasher;
use super::limiter::{self, SlidingBudget};
use super::numbers::PhoneNumberId;
use super::pin::{Pin, PinError};
use super::two_step::{enabled_with, TwoStep};
use super::{flatten, Unavailable};
use crate::config::Settings;
use crate::secret::Secret;
use crate::store::{Op, Store};

/// The register/deregister window (docs/cloud.md#registration).
const REGISTRATION_WINDOW: Duration = Duration::from_secs(72 * 3600);
/// The wrong-PIN window.
const GUESS_WINDOW: Duration = Duration::from_secs(3600);

/// Why a registration request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// Two-step is on and no PIN was given (400 / 1008).
    #[error("pin missing")]
    PinMissing,
    /// The PIN is not a PIN at all (400 / 1009).
    #[error(transparent)]
    PinFormat(#[from] PinError),
    /// The PIN is not the two-step PIN (400 / 1009; Cloud 133005).
    #[error("Two-step verification PIN mismatch")]
    PinMismatch,
    /// Too many wrong PINs for this number this hour (429 / 1015; Cloud 133008).
    #[error("Too many two-step verification PIN guesses")]
    TooManyGuesses {
        /// Until the budget opens again.
        retry_after: Duration,
    },
    /// Too many register and deregister calls for this number (Cloud 133016).
    #[error("too many register and deregister calls")]
    TooManyRegistrations,
    /// The state holds no number with that ID.
    #[error("no such phone number")]
    UnknownNumber,
    /// The verification code is wrong (400 / 1009).
    #[error("Verification code is not valid")]
    BadCode,
    /// Overload or an internal failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// What an On-Premises registration request did.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// The number asked for is the registered one (201).
    Already,
    /// A code was "sent" (202) for the verified name.
    CodeSent,
}

/// One budget as the control plane shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Used in the current window.
    pub used: u32,
    /// Allowed per window.
    pub limit: u32,
}

/// The registration service.
#[derive(Debug)]
pub struct Registration {
    /// Durable state.
    store: Arc<Store>,
    /// The PIN check.
    two_step: Arc<TwoStep>,
    /// For a PIN that becomes the number's at registration.
    hasher: Arc<Hasher>,
    /// Wrong PIN guesses per number: the guard protects the number, not a client
    /// (shared by every server when the state is in a database).
    guesses: limiter::Budget<String>,
    /// `account.max_pin_guesses`.
    max_guesses: u32,
    /// Register and deregister calls per number.
    registrations: SlidingBudget,
    /// `account.cc` and `account.phone_number`: the On-Premises number's digits.
    cc: String,
    /// See `cc`.
    phone_number: String,
    /// `account.vname`.
    vname: String,
    /// `account.verify_code`.
    verify_code: Secret,
}

impl Registration {
    /// Builds the service from the `[account]` and `[cloud]` settings.
    pub fn new(
        store: Arc<Store>,
        two_step: Arc<TwoStep>,
        hasher: Arc<Hasher>,
        settings: &Settings,
    ) -> Self {
        let account = &settings.account;
        // Keys are numbers the state holds: a handful, so a small bound suffices.
        let guesses = limiter::Budget::new(
            &store,
            "pin_guesses",
            account.max_pin_guesses,
            GUESS_WINDOW,
            1024,
        );
        let registrations = SlidingBudget::new(
            &store,
            "registrations",
            settings.cloud.max_registrations,
            REGISTRATION_WINDOW,
        );
        Registration {
            store,
            two_step,
            hasher,
            guesses,
            max_guesses: account.max_pin_guesses,
            registrations,
            cc: account.cc.clone(),
            phone_number: account.phone_number.clone(),
            vname: account.vname.clone(),
            verify_code: account.verify_code.clone(),
        }
    }

    /// The verified name an On-Premises registration reports.
    pub fn vname(&self) -> &str {
        &self.vname
    }

    /// Whether the first (On-Premises) number is registered.
    pub fn is_registered(&self) -> bool {
        self.store.read(|s| s.first_number().registered)
    }

    /// Forgets wrong-guess and registration counts (control-plane reset).
    pub async fn clear_budgets(&self) -> Result<(), Unavailable> {
        self.registrations.clear().await?;
        self.guesses.clear().await
    }

    /// The wrong-PIN budget of `number` now.
    pub async fn guess_budget(&self, number: &str) -> Result<Budget, Unavailable> {
        let used = self.guesses.used(&number.to_owned()).await?;
        Ok(Budget {
            used: used.min(self.max_guesses),
            limit: self.max_guesses,
        })
    }

    /// The register/deregister budget of `number` now.
    pub async fn registration_budget(&self, number: &str) -> Result<Budget, Unavailable> {
        Ok(Budget {
            used: self.registrations.used(number).await?,
            limit: self.registrations.max(),
        })
    }

    /// The PIN guard: refused while the number's guesses are used up; a wrong PIN
    /// counts one guess. WhatsApp Manager's Change PIN uses it too, so a wrong
    /// current PIN spends the same budget (docs/behaviour.md#whatsapp-manager).
    pub async fn check_pin(
        &self,
        number: &PhoneNumberId,
        pin: &Pin,
    ) -> Result<(), RegistrationError> {
        let key = number.as_str().to_owned();
        // Counted before the PIN is checked, handed back unless it was wrong, so
        // parallel wrong guesses cannot all pass a check made before any counted.
        if let Err(retry_after) = self.guesses.take(&key).await? {
            return Err(RegistrationError::TooManyGuesses { retry_after });
        }
        let verified = self.two_step.verify(number, pin).await;
        if !matches!(verified, Ok(false)) {
            // Right, or not decided (a full queue): no wrong guess.
            self.guesses.give_back(&key).await?;
        }
        if !verified? {
            return Err(RegistrationError::PinMismatch);
        }
        Ok(())
    }

    /// `POST /v1/account` after its fields were validated: checks the PIN guard of
    /// the first number.
    pub async fn register(
        &self,
        cc: &str,
        phone_number: &str,
        pin: Option<&Value>,
    ) -> Result<Registered, RegistrationError> {
        let first = PhoneNumberId::parse(&self.store.read(|s| s.first_number().id.clone()))
            .map_err(|_| RegistrationError::UnknownNumber)?;
        if self.two_step.is_enabled(&first) == Some(true) {
            let pin = Pin::from_json(pin.ok_or(RegistrationError::PinMissing)?)?;
            self.check_pin(&first, &pin).await?;
        }
        if self.is_registered() && cc == self.cc && phone_number == self.phone_number {
            Ok(Registered::Already)
        } else {
            Ok(Registered::CodeSent)
        }
    }

    /// `POST /v1/account/verify`: the right code registers the first number, durably.
    pub async fn verify(&self, code: &str) -> Result<(), RegistrationError> {
        if !self.verify_code.ct_eq(code) {
            return Err(RegistrationError::BadCode);
        }
        self.store
            .commit(|tx| {
                let first = tx.state().first_number();
                if !first.registered {
                    let number = first.id.clone();
                    tx.push(Op::SetNumberRegistered {
                        number,
                        registered: true,
                    });
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }

    /// Takes one register/deregister call from `number`'s budget.
    async fn take_registration(&self, number: &PhoneNumberId) -> Result<(), RegistrationError> {
        if self.registrations.try_take(number.as_str()).await? {
            Ok(())
        } else {
            Err(RegistrationError::TooManyRegistrations)
        }
    }

    /// Registers `number` with `pin` (docs/cloud.md#registration): with two-step on
    /// the PIN must be the number's; with it off the PIN becomes the number's PIN
    /// (two-step enabled). The call counts against the register/deregister budget
    /// once the guess budget lets it through, unless it fails for want of the server
    /// (503, 500: it did not happen); durable before it returns.
    pub async fn register_with_pin(
        &self,
        number: &PhoneNumberId,
        pin: Pin,
    ) -> Result<(), RegistrationError> {
        let enabled = self
            .two_step
            .is_enabled(number)
            .ok_or(RegistrationError::UnknownNumber)?;
        // The guess budget guards a PIN: with two-step off there is none to guess,
        // as on `/v1/account`, so a used-up budget does not block this way back.
        if enabled {
            let key = number.as_str().to_owned();
            if let Some(retry_after) = self.guesses.retry_after(&key).await? {
                return Err(RegistrationError::TooManyGuesses { retry_after });
            }
        }
        self.take_registration(number).await?;
        let result = self.registered_with(number, pin, enabled).await;
        self.refund_if_unavailable(number, &result).await;
        result
    }

    /// `register_with_pin` once its call is counted.
    async fn registered_with(
        &self,
        number: &PhoneNumberId,
        pin: Pin,
        enabled: bool,
    ) -> Result<(), RegistrationError> {
        let new_pin = if enabled {
            self.check_pin(number, &pin).await?;
            None
        } else {
            Some(
                self.hasher
                    .hash(Secret::new(pin.expose()))
                    .await
                    .map_err(Unavailable::from)?,
            )
        };
        let id = number.as_str().to_owned();
        let sets_pin = new_pin.is_some();
        self.store
            .commit(move |tx| {
                let current = tx
                    .state()
                    .number(&id)
                    .ok_or(RegistrationError::UnknownNumber)?;
                let registered = current.registered;
                // The PIN was checked, or two-step was off, when the request began. A
                // PIN set by another request in between is ordered before this
                // change: the PIN given here, committed later, replaces it.
                if let Some(hash) = new_pin {
                    let two_step = enabled_with(hash);
                    tx.push(Op::SetNumberTwoStep {
                        number: id.clone(),
                        two_step,
                    });
                }
                if !registered {
                    tx.push(Op::SetNumberRegistered {
                        number: id,
                        registered: true,
                    });
                }
                Ok(())
            })
            .await
            .map_err(flatten::<RegistrationError>)?;
        if sets_pin {
            self.two_step.pin_changed(number);
        }
        Ok(())
    }

    /// A call that failed for want of the server did not happen: it gives its
    /// place in the register/deregister budget back.
    async fn refund_if_unavailable(
        &self,
        number: &PhoneNumberId,
        result: &Result<(), RegistrationError>,
    ) {
        if matches!(result, Err(RegistrationError::Unavailable(_))) {
            if let Err(e) = self.registrations.give_back(number.as_str()).await {
                tracing::warn!(error = %e, "a refused call's budget place was not given back");
            }
        }
    }

    /// Deregisters `number` (docs/cloud.md#registration): it is kept with its PIN.
    /// Counts against the register/deregister budget (unless the write fails);
    /// idempotent otherwise.
    pub async fn deregister(&self, number: &PhoneNumberId) -> Result<(), RegistrationError> {
        if self.two_step.is_enabled(number).is_none() {
            return Err(RegistrationError::UnknownNumber);
        }
        self.take_registration(number).await?;
        let result = self.deregistered(number).await;
        self.refund_if_unavailable(number, &result).await;
        result
    }

    /// `deregister` once its call is counted.
    async fn deregistered(&self, number: &PhoneNumberId) -> Result<(), RegistrationError> {
        let id = number.as_str().to_owned();
        self.store
            .commit(move |tx| {
                let current = tx
                    .state()
                    .number(&id)
                    .ok_or(RegistrationError::UnknownNumber)?;
                if current.registered {
                    tx.push(Op::SetNumberRegistered {
                        number: id,
                        registered: false,
                    });
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }
}
