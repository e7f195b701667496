//! Schema migrations: reading a state file (snapshot and change-log records)
//! written by an earlier release, so upgrading the server never loses a sandbox's
//! state (docs/behaviour.md#state-and-durability). Plain data: no I/O.
//!
//! Schema 1 (releases up to the Cloud flavor) held the one emulated number's
//! two-step record and registration at the top level (`two_step`, `account`).
//! Schema 2 holds `numbers` (the first one is that number) and `cloud_tokens`.
//! The upgrade needs what schema 1 never stored, the first number's identity,
//! which the caller takes from the settings ([`Upgrade`]). Log records are
//! upgraded too: a `replace` record (a reset) carries a whole state of its own
//! schema, and the schema-1 ops `set_two_step` / `set_account` still apply (to the
//! first number; see `ops`).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::ops::Op;
use super::state::{
    AccountRecord, NumberRecord, State, TokenRecord, TwoStepRecord, UserRecord, SCHEMA,
};

/// What an upgrade from schema 1 needs to know: the identity of the number a
/// schema-1 file described (`cloud.phone_number_id`, `account.cc` +
/// `account.phone_number`, `account.vname` of the running server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// Its phone-number ID.
    pub id: String,
    /// Its display number.
    pub display_phone_number: String,
    /// Its verified name.
    pub verified_name: String,
}

impl Upgrade {
    /// The identity the store tests use.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Upgrade {
        Upgrade {
            id: "1".into(),
            display_phone_number: "+1 5550100".into(),
            verified_name: "Test".into(),
        }
    }
}

/// The state file of schema 1, field for field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateV1 {
    #[allow(dead_code)] // checked by `state`, read for completeness
    schema: u32,
    #[serde(default)]
    seq: u64,
    users: BTreeMap<String, UserRecord>,
    tokens: HashMap<String, TokenRecord>,
    two_step: TwoStepRecord,
    account: AccountRecord,
}

impl StateV1 {
    /// Schema 2: the one number becomes the first (and only) number.
    fn upgrade(self, upgrade: &Upgrade) -> State {
        let mut number = NumberRecord::new(
            &upgrade.id,
            &upgrade.display_phone_number,
            &upgrade.verified_name,
            self.account.registered,
        );
        number.two_step = self.two_step;
        State {
            schema: SCHEMA,
            seq: self.seq,
            users: self.users,
            tokens: self.tokens,
            numbers: vec![number],
            cloud_tokens: HashMap::new(),
            reset_links: HashMap::new(),
        }
    }
}

/// A state document of any schema this build reads, as the current schema.
pub fn state(value: Value, upgrade: &Upgrade) -> Result<State, String> {
    let state = match value.get("schema").and_then(Value::as_u64) {
        Some(1) => serde_json::from_value::<StateV1>(value)
            .map_err(|e| format!("invalid state (schema 1): {e}"))?
            .upgrade(upgrade),
        Some(v) if v == u64::from(SCHEMA) => {
            serde_json::from_value(value).map_err(|e| format!("invalid state: {e}"))?
        }
        Some(v) => {
            return Err(format!(
                "unknown schema version {v} (this build reads 1 to {SCHEMA})"
            ))
        }
        None => return Err("no schema version: not a wa-twostep state file".into()),
    };
    checked(state)
}

/// A parsed state of the current schema, if it holds what every state must.
pub fn checked(state: State) -> Result<State, String> {
    if state.numbers.is_empty() {
        return Err("invalid state: no phone numbers".into());
    }
    Ok(state)
}

/// One change-log op as the current `Op`, whatever schema its record was written in.
pub fn op(mut value: Value, upgrade: &Upgrade) -> Result<Op, String> {
    if value.get("op").and_then(Value::as_str) == Some("replace") {
        if let Some(inner) = value.get_mut("state") {
            let upgraded = state(inner.take(), upgrade)?;
            return Ok(Op::Replace {
                state: Box::new(upgraded),
            });
        }
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v1() -> Value {
        json!({
            "schema": 1, "seq": 4,
            "users": {"admin": {"role": "ROLE_ADMIN", "password_hash": "$argon2id$x", "password_change_required": false}},
            "tokens": {"d": {"username": "admin", "expires_at": 9, "issued_ms": 1}},
            "two_step": {"enabled": true, "pin_hash": "$argon2id$p", "updated_at_ms": 7},
            "account": {"registered": false}
        })
    }

    #[test]
    fn a_schema_1_state_becomes_one_number_with_its_pin_and_registration() {
        let s = state(v1(), &Upgrade::for_tests()).unwrap();
        assert_eq!(s.schema, SCHEMA);
        assert_eq!(s.seq, 4);
        assert_eq!(s.users.len(), 1);
        assert_eq!(s.tokens["d"].expires_at, 9);
        assert_eq!(s.numbers.len(), 1);
        let n = s.first_number();
        assert_eq!(
            (n.id.as_str(), n.verified_name.as_str(), n.registered),
            ("1", "Test", false)
        );
        assert!(n.two_step.enabled);
        assert_eq!(
            n.two_step.pin_hash.as_ref().unwrap().expose(),
            "$argon2id$p"
        );
        assert!(s.cloud_tokens.is_empty());
    }

    #[test]
    fn a_schema_1_replace_record_is_upgraded_and_old_ops_still_parse() {
        let up = Upgrade::for_tests();
        let replace = op(json!({"op": "replace", "state": v1()}), &up).unwrap();
        let Op::Replace { state } = replace else {
            panic!("not a replace: {replace:?}")
        };
        assert_eq!(state.schema, SCHEMA);
        assert!(state.first_number().two_step.enabled);
        let old = op(
            json!({"op": "set_account", "account": {"registered": true}}),
            &up,
        )
        .unwrap();
        assert!(matches!(old, Op::SetAccount { .. }));
    }

    #[test]
    fn bad_documents_are_refused_with_a_reason() {
        let up = Upgrade::for_tests();
        let mut extra = v1();
        extra["numbers"] = json!([]);
        assert!(state(extra, &up).unwrap_err().contains("schema 1"));
        let mut none = serde_json::to_value(crate::store::state::test_state(false)).unwrap();
        none["numbers"] = json!([]);
        assert!(state(none, &up).unwrap_err().contains("no phone numbers"));
        assert!(state(json!({"schema": 3}), &up)
            .unwrap_err()
            .contains("unknown schema version 3"));
    }
}
