//! Two-step verification (docs/behaviour.md#two-step-verification) of one number:
//! enable or change its PIN, disable it, and verify a PIN (for registration). Only
//! an argon2id hash of the PIN is kept. Every edge calls the same operations with
//! the number it means (the On-Premises API always means the first number), so a
//! PIN set through one flavor is the PIN the other sees.

use std::sync::Arc;

use super::hasher::Hasher;
use super::manager::{NoEvents, SecurityEvent, SecuritySink};
use super::numbers::PhoneNumberId;
use super::pin::Pin;
use super::{flatten, Unavailable};
use crate::clock::now_ms;
use crate::secret::Secret;
use crate::store::state::TwoStepRecord;
use crate::store::{Op, Store};

/// Why a two-step change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TwoStepError {
    /// The state holds no number with that ID.
    #[error("no such phone number")]
    UnknownNumber,
    /// Overload or an internal failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// The two-step service.
#[derive(Debug)]
pub struct TwoStep {
    /// Durable state.
    store: Arc<Store>,
    /// argon2id pool.
    hasher: Arc<Hasher>,
    /// Where `PIN_CHANGED` goes once a new PIN is durable.
    events: Arc<dyn SecuritySink>,
}

/// The record of a number whose PIN was just set to `hash`.
pub(crate) fn enabled_with(hash: Secret) -> TwoStepRecord {
    TwoStepRecord {
        enabled: true,
        pin_hash: Some(hash),
        updated_at_ms: Some(now_ms()),
    }
}

impl TwoStep {
    /// Builds the service.
    pub fn new(store: Arc<Store>, hasher: Arc<Hasher>) -> TwoStep {
        TwoStep {
            store,
            hasher,
            events: Arc::new(NoEvents),
        }
    }

    /// Reports security events (`PIN_CHANGED`) to `events`.
    pub fn with_events(mut self, events: Arc<dyn SecuritySink>) -> TwoStep {
        self.events = events;
        self
    }

    /// Reports `PIN_CHANGED` for `number`: every path that sets a PIN calls it
    /// after the change is durable (both APIs, register, the Manager).
    pub(crate) fn pin_changed(&self, number: &PhoneNumberId) {
        let display = self.store.read(|s| {
            s.number(number.as_str())
                .map(|n| n.display_phone_number.clone())
        });
        if let Some(display) = display {
            self.events.emit(SecurityEvent::PinChanged, &display, None);
        }
    }

    /// Enables two-step on `number` with `pin`, replacing any PIN already set (that
    /// is how a PIN is changed: docs/on-premises.md#what-no-source-says, and the Cloud
    /// API needs no old PIN either: docs/cloud.md#setting-the-pin). Returns once the
    /// change is durable.
    pub async fn enable(&self, number: &PhoneNumberId, pin: Pin) -> Result<(), TwoStepError> {
        if self.store.read(|s| s.number(number.as_str()).is_none()) {
            return Err(TwoStepError::UnknownNumber);
        }
        let hash = self
            .hasher
            .hash(Secret::new(pin.expose()))
            .await
            .map_err(Unavailable::from)?;
        let id = number.as_str().to_owned();
        self.store
            .commit(move |tx| {
                if tx.state().number(&id).is_none() {
                    return Err(TwoStepError::UnknownNumber);
                }
                let two_step = enabled_with(hash);
                tx.push(Op::SetNumberTwoStep {
                    number: id,
                    two_step,
                });
                Ok(())
            })
            .await
            .map_err(flatten)?;
        self.pin_changed(number);
        Ok(())
    }

    /// Disables two-step on `number`. Idempotent: when already disabled nothing is written.
    pub async fn disable(&self, number: &PhoneNumberId) -> Result<(), TwoStepError> {
        match self.is_enabled(number) {
            None => return Err(TwoStepError::UnknownNumber),
            Some(false) => return Ok(()),
            Some(true) => {}
        }
        let number = number.as_str().to_owned();
        self.store
            .commit(move |tx| {
                let enabled = tx.state().number(&number).map(|n| n.two_step.enabled);
                match enabled {
                    None => return Err(TwoStepError::UnknownNumber),
                    Some(false) => {}
                    Some(true) => {
                        let two_step = TwoStepRecord {
                            enabled: false,
                            pin_hash: None,
                            updated_at_ms: Some(now_ms()),
                        };
                        tx.push(Op::SetNumberTwoStep { number, two_step });
                    }
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }

    /// Whether two-step is on for `number`; `None` when there is no such number.
    pub fn is_enabled(&self, number: &PhoneNumberId) -> Option<bool> {
        self.store
            .read(|s| s.number(number.as_str()).map(|n| n.two_step.enabled))
    }

    /// Checks `pin` against `number`'s stored hash; false when two-step is off or
    /// there is no such number.
    pub async fn verify(&self, number: &PhoneNumberId, pin: &Pin) -> Result<bool, Unavailable> {
        let hash = self.store.read(|s| {
            s.number(number.as_str())
                .and_then(|n| n.two_step.pin_hash.clone())
        });
        match hash {
            Some(hash) => Ok(self
                .hasher
                .verify(Secret::new(pin.expose()), Some(hash))
                .await?),
            None => Ok(false),
        }
    }
}
