//! The versioned on-disk schema. Plain data: no I/O, no hashing, no HTTP.
//! Secrets appear only as argon2id hashes (passwords, PIN) and SHA-256 digests
//! (tokens), each wrapped in `Secret` so no `Debug` can print them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Schema version written to and expected in the state file.
pub const SCHEMA: u32 = 1;

/// Stands in for the seed admin's password hash until the first login needs it:
/// hashing at start-up would cost one argon2 run (tens of milliseconds and 19 MiB)
/// before the server is ready. It matches no password by itself; the accounts
/// service hashes the seed password on first use and stores the real hash with
/// the first login's change.
pub const DEFERRED_SEED_HASH: &str = "deferred:seed-admin-password";

/// The whole durable state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Sequence number of the last change batch this state includes (store
    /// bookkeeping: log records up to it are already in a snapshot).
    #[serde(default)]
    pub seq: u64,
    /// Users by name.
    pub users: BTreeMap<String, UserRecord>,
    /// Live tokens by the hex SHA-256 digest of the token.
    pub tokens: HashMap<String, TokenRecord>,
    /// The two-step verification setting.
    pub two_step: TwoStepRecord,
    /// Registration status of the emulated number.
    pub account: AccountRecord,
}

/// A user's role, spelled as the real server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Only `admin`.
    #[serde(rename = "ROLE_ADMIN")]
    Admin,
    /// Every created user.
    #[serde(rename = "ROLE_USER")]
    User,
}

impl Role {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ROLE_ADMIN",
            Role::User => "ROLE_USER",
        }
    }
}

/// One user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// Role.
    pub role: Role,
    /// argon2id PHC string of the password.
    pub password_hash: Secret,
    /// The user must set a new password at the next login.
    pub password_change_required: bool,
}

/// One live token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// Owner.
    pub username: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Issue time, Unix milliseconds: orders a user's tokens for the per-user cap
    /// (tokens issued in the same second share `expires_at`). 0 in files written
    /// before it existed, which makes those tokens the oldest, as they are.
    #[serde(default)]
    pub issued_ms: i64,
}

/// Two-step verification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoStepRecord {
    /// Enabled.
    pub enabled: bool,
    /// argon2id PHC string of the PIN while enabled.
    pub pin_hash: Option<Secret>,
    /// Last change, Unix milliseconds; `None` before the first change.
    pub updated_at_ms: Option<i64>,
}

/// Registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    /// The emulated number is registered.
    pub registered: bool,
}

impl State {
    /// The seed state: one admin with the given password hash.
    pub fn seed(admin_hash: Secret, must_change: bool, registered: bool) -> State {
        let mut users = BTreeMap::new();
        users.insert(
            "admin".to_owned(),
            UserRecord {
                role: Role::Admin,
                password_hash: admin_hash,
                password_change_required: must_change,
            },
        );
        State {
            schema: SCHEMA,
            seq: 0,
            users,
            tokens: HashMap::new(),
            two_step: TwoStepRecord::default(),
            account: AccountRecord { registered },
        }
    }

    /// Digests of the tokens expired at `now` (Unix seconds).
    pub fn expired_tokens(&self, now: i64) -> Vec<String> {
        self.tokens
            .iter()
            .filter(|(_, t)| t.expires_at <= now)
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Parses a state file's bytes, telling an unknown schema apart from garbage.
    pub fn from_bytes(bytes: &[u8]) -> Result<State, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        match value.get("schema").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA) => {}
            Some(v) => {
                return Err(format!(
                    "unknown schema version {v} (this build reads {SCHEMA})"
                ))
            }
            None => return Err("no schema version: not a wa-twostep state file".into()),
        }
        serde_json::from_value(value).map_err(|e| format!("invalid state: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_through_json() {
        let mut s = State::seed(Secret::new("$argon2id$x"), true, true);
        s.tokens.insert(
            "ab".into(),
            TokenRecord {
                username: "admin".into(),
                expires_at: 5,
                issued_ms: 0,
            },
        );
        let bytes = serde_json::to_vec(&s).unwrap();
        assert_eq!(State::from_bytes(&bytes).unwrap(), s);
    }

    #[test]
    fn unknown_schema_and_garbage_are_told_apart() {
        assert!(State::from_bytes(b"{\"schema\": 999}")
            .unwrap_err()
            .contains("unknown schema version 999"));
        assert!(State::from_bytes(b"{not json")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(State::from_bytes(b"[]").unwrap_err().contains("no schema"));
    }

    #[test]
    fn expired_tokens_are_found() {
        let mut s = State::seed(Secret::new("h"), false, true);
        let t = |expires_at| TokenRecord {
            username: "admin".into(),
            expires_at,
            issued_ms: 0,
        };
        s.tokens.insert("a".into(), t(10));
        s.tokens.insert("b".into(), t(20));
        assert_eq!(s.expired_tokens(10), vec!["a".to_string()]);
        assert!(s.expired_tokens(9).is_empty());
    }
}
