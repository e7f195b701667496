//! The WhatsApp Business Account's phone numbers (docs/behaviour.md#numbers): the
//! [`PhoneNumberId`] rule, the [`Number`] the edges show, and the read side of the
//! [`Numbers`] service. Each number has its own registration status and PIN; the
//! first one is the number the On-Premises API emulates, so every edge reaches the
//! same number through the same service. Changing a PIN is `two_step`; register
//! and deregister are `registration`.

use std::sync::Arc;

use crate::store::state::NumberRecord;
use crate::store::Store;

/// A phone-number ID as the Cloud API writes it in paths: 1 to 32 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumberId(String);

/// A phone-number ID that breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a phone-number ID is 1 to 32 digits")]
pub struct BadPhoneNumberId;

impl PhoneNumberId {
    /// Parses an ID.
    pub fn parse(s: &str) -> Result<PhoneNumberId, BadPhoneNumberId> {
        if crate::config::is_graph_id(s) {
            Ok(PhoneNumberId(s.to_owned()))
        } else {
            Err(BadPhoneNumberId)
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhoneNumberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One number as the edges show it: no PIN, no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// Its phone-number ID.
    pub id: PhoneNumberId,
    /// The number as people read it.
    pub display_phone_number: String,
    /// The business name shown with it.
    pub verified_name: String,
    /// Registered (connected).
    pub registered: bool,
    /// A two-step PIN is set.
    pub two_step_enabled: bool,
    /// Last two-step change, Unix milliseconds; `None` before the first.
    pub two_step_updated_at_ms: Option<i64>,
}

impl Number {
    /// The number a record describes.
    pub(crate) fn of(record: &NumberRecord) -> Number {
        Number {
            id: PhoneNumberId(record.id.clone()),
            display_phone_number: record.display_phone_number.clone(),
            verified_name: record.verified_name.clone(),
            registered: record.registered,
            two_step_enabled: record.two_step.enabled,
            two_step_updated_at_ms: record.two_step.updated_at_ms,
        }
    }
}

/// The numbers service: which numbers exist and how they stand.
#[derive(Debug)]
pub struct Numbers {
    /// Durable state.
    store: Arc<Store>,
}

impl Numbers {
    /// Builds the service.
    pub fn new(store: Arc<Store>) -> Numbers {
        Numbers { store }
    }

    /// The first number's ID: the number the On-Premises API acts on.
    pub fn first_id(&self) -> PhoneNumberId {
        self.store
            .read(|s| PhoneNumberId(s.first_number().id.clone()))
    }

    /// The number with ID `id` (any string: an ID that breaks the rule names no number).
    pub fn get(&self, id: &str) -> Option<Number> {
        self.store.read(|s| s.number(id).map(Number::of))
    }

    /// Every number, the first one first.
    pub fn list(&self) -> Vec<Number> {
        self.store
            .read(|s| s.numbers.iter().map(Number::of).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_to_32_digits() {
        assert_eq!(
            PhoneNumberId::parse("106540352242922").unwrap().as_str(),
            "106540352242922"
        );
        for bad in ["", "12a", " 1", "١٢", &"1".repeat(33)] {
            assert!(PhoneNumberId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
