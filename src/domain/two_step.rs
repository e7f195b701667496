//! Two-step verification (docs/behaviour.md#two-step-verification): enable or change the PIN, disable it, and
//! verify a PIN (for registration). Only an argon2id hash of the PIN is kept.

use std::sync::Arc;

use super::hasher::Hasher;
use super::pin::Pin;
use super::{flatten, Unavailable};
use crate::clock::now_ms;
use crate::secret::Secret;
use crate::store::state::TwoStepRecord;
use crate::store::{Op, Store};

/// The two-step service.
#[derive(Debug)]
pub struct TwoStep {
    /// Durable state.
    store: Arc<Store>,
    /// argon2id pool.
    hasher: Arc<Hasher>,
}

impl TwoStep {
    /// Builds the service.
    pub fn new(store: Arc<Store>, hasher: Arc<Hasher>) -> TwoStep {
        TwoStep { store, hasher }
    }

    /// Enables two-step with `pin`, replacing any PIN already set (that is how a PIN
    /// is changed: docs/on-premises.md#what-no-source-says). Returns once the change is durable.
    pub async fn enable(&self, pin: Pin) -> Result<(), Unavailable> {
        let hash = self.hasher.hash(Secret::new(pin.expose())).await?;
        self.store
            .commit(move |tx| {
                let two_step = TwoStepRecord {
                    enabled: true,
                    pin_hash: Some(hash),
                    updated_at_ms: Some(now_ms()),
                };
                tx.push(Op::SetTwoStep { two_step });
                Ok(())
            })
            .await
            .map_err(flatten)
    }

    /// Disables two-step. Idempotent: when already disabled nothing is written.
    pub async fn disable(&self) -> Result<(), Unavailable> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.store
            .commit(|tx| {
                if tx.state().two_step.enabled {
                    let two_step = TwoStepRecord {
                        enabled: false,
                        pin_hash: None,
                        updated_at_ms: Some(now_ms()),
                    };
                    tx.push(Op::SetTwoStep { two_step });
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }

    /// Whether two-step is on.
    pub fn is_enabled(&self) -> bool {
        self.store.read(|s| s.two_step.enabled)
    }

    /// Checks `pin` against the stored hash; false when two-step is off.
    pub async fn verify(&self, pin: &Pin) -> Result<bool, Unavailable> {
        let hash = self.store.read(|s| s.two_step.pin_hash.clone());
        match hash {
            Some(hash) => Ok(self
                .hasher
                .verify(Secret::new(pin.expose()), Some(hash))
                .await?),
            None => Ok(false),
        }
    }
}
