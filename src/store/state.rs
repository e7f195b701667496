//! The versioned on-disk schema. Plain data: no I/O, no hashing, no HTTP.
//! Secrets appear only as argon2id hashes (passwords, PIN) and token digests (BLAKE2s-256, or SHA-256 from earlier releases)
//! (tokens), each wrapped in `Secret` so no `Debug` can print them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::migrate::Upgrade;
use crate::secret::Secret;

/// Schema version written to the state file. Schema 1 (releases before the Cloud
/// flavor) held one number's two-step and registration at the top level; schema 2
/// holds the WABA's numbers and the Cloud tokens. Older files are upgraded in
/// memory by [`super::migrate`] and written as schema 2 with the next change.
pub const SCHEMA: u32 = 2;

/// Stands in for the seed admin's password hash until the first login needs it:
/// hashing at start-up would cost one argon2 run (tens of milliseconds and 19 MiB)
/// before the server is ready. It matches no password by itself; the accounts
/// service hashes the seed password on first use and stores the real hash with
/// the first login's change. Written as `deferred:seed-admin-password:<salt>`
/// ([`deferred_seed_hash`]): the salt that hash will use is fixed when the seed is
/// written, so every server sharing the state computes the very same hash and
/// racing first logins through different servers agree. Files of earlier
/// releases hold the bare marker (no salt): their first hash takes a fresh salt.
pub const DEFERRED_SEED_HASH: &str = "deferred:seed-admin-password";

/// The deferred seed hash marker that will be hashed with `salt` (PHC B64).
pub fn deferred_seed_hash(salt: &str) -> String {
    format!("{DEFERRED_SEED_HASH}:{salt}")
}

/// Whether `stored` is a deferred seed hash, and with which salt: `None` for a
/// real hash, `Some(None)` for the bare marker of earlier releases.
pub fn deferred_seed_salt(stored: &str) -> Option<Option<&str>> {
    let rest = stored.strip_prefix(DEFERRED_SEED_HASH)?;
    if rest.is_empty() {
        return Some(None);
    }
    rest.strip_prefix(':').map(Some)
}

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
    /// Live tokens by the digest of the token (see `domain::users::tokens`).
    pub tokens: HashMap<String, TokenRecord>,
    /// The WhatsApp Business Account's phone numbers, never empty. The first is
    /// the number the On-Premises API acts on (docs/behaviour.md#numbers).
    pub numbers: Vec<NumberRecord>,
    /// Cloud API access tokens by the digest of the token (see `domain::users::tokens`).
    pub cloud_tokens: HashMap<String, CloudTokenRecord>,
    /// Pending WhatsApp Manager reset links by the hex SHA-256 digest of the
    /// link's token. Absent from files written before the Manager existed.
    #[serde(default)]
    pub reset_links: HashMap<String, ResetLinkRecord>,
}

/// One pending "Turn off two-step verification" link (its digest is the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetLinkRecord {
    /// The phone-number ID it turns two-step off for.
    pub number: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
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

/// Two-step verification of one number.
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

/// Registration, as schema 1 stored it (and its `set_account` op still carries it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    /// The emulated number is registered.
    pub registered: bool,
}

/// One phone number of the WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRecord {
    /// The phone-number ID (digits), as the Cloud API names it in paths.
    pub id: String,
    /// The number as people read it, e.g. `+1 5550100`.
    pub display_phone_number: String,
    /// The business name shown with it.
    pub verified_name: String,
    /// Registered with WhatsApp (Cloud: `status` CONNECTED; On-Premises: `gateway_status` connected).
    pub registered: bool,
    /// Its two-step verification PIN.
    pub two_step: TwoStepRecord,
}

/// A permission a Cloud access token may carry (docs/cloud.md#tokens-and-permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Manage the WABA and its numbers: what every Cloud route here needs.
    #[serde(rename = "whatsapp_business_management")]
    Management,
    /// Send and receive messages.
    #[serde(rename = "whatsapp_business_messaging")]
    Messaging,
}

impl Scope {
    /// Both scopes, in wire order.
    pub const ALL: [Scope; 2] = [Scope::Management, Scope::Messaging];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Management => "whatsapp_business_management",
            Scope::Messaging => "whatsapp_business_messaging",
        }
    }

    /// The scope spelled `name`, if there is one.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One Cloud access token (its digest is the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTokenRecord {
    /// Its permissions, sorted, without repeats.
    pub scopes: Vec<Scope>,
    /// Expiry, Unix seconds; `None`: never.
    pub expires_at: Option<i64>,
    /// Issue time, Unix milliseconds (orders tokens for the cap).
    pub issued_ms: i64,
}

/// How long an expired Cloud token is remembered (digest only), so that it is
/// answered "expired" (190 / 463) rather than "unknown" (190) for a while.
pub const EXPIRED_CLOUD_TOKEN_RETENTION_SECS: i64 = 7 * 86_400;

impl NumberRecord {
    /// A number without a PIN.
    pub fn new(
        id: &str,
        display_phone_number: &str,
        verified_name: &str,
        registered: bool,
    ) -> Self {
        NumberRecord {
            id: id.to_owned(),
            display_phone_number: display_phone_number.to_owned(),
            verified_name: verified_name.to_owned(),
            registered,
            two_step: TwoStepRecord::default(),
        }
    }
}

impl State {
    /// The seed state: one admin with the given password hash, and `numbers`
    /// (the first is the On-Premises number; there must be at least one).
    pub fn seed(admin_hash: Secret, must_change: bool, numbers: Vec<NumberRecord>) -> State {
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
            numbers,
            cloud_tokens: HashMap::new(),
            reset_links: HashMap::new(),
        }
    }

    /// The first number: the one the On-Premises API acts on.
    pub fn first_number(&self) -> &NumberRecord {
        // Never empty: every constructor and `from_bytes` guarantee one number.
        &self.numbers[0]
    }

    /// The number with ID `id`.
    pub fn number(&self, id: &str) -> Option<&NumberRecord> {
        self.numbers.iter().find(|n| n.id == id)
    }

    /// The number with ID `id`, to change.
    pub fn number_mut(&mut self, id: &str) -> Option<&mut NumberRecord> {
        self.numbers.iter_mut().find(|n| n.id == id)
    }

    /// Digests of the tokens expired at `now` (Unix seconds).
    pub fn expired_tokens(&self, now: i64) -> Vec<String> {
        self.tokens
            .iter()
            .filter(|(_, t)| t.expires_at <= now)
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Digests of the Cloud tokens expired longer than the retention at `now`.
    pub fn stale_cloud_tokens(&self, now: i64) -> Vec<String> {
        self.cloud_tokens
            .iter()
            .filter(|(_, t)| {
                t.expires_at
                    .is_some_and(|at| at + EXPIRED_CLOUD_TOKEN_RETENTION_SECS <= now)
            })
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Digests of reset links expired longer than [`EXPIRED_CLOUD_TOKEN_RETENTION_SECS`]
    /// ago: until then an expired link is answered "expired" rather than "unknown".
    pub fn stale_reset_links(&self, now: i64) -> Vec<String> {
        self.reset_links
            .iter()
            .filter(|(_, l)| l.expires_at + EXPIRED_CLOUD_TOKEN_RETENTION_SECS <= now)
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Parses a state file's bytes: the current schema as it is, an older one
    /// upgraded with `upgrade` (docs/behaviour.md#state-and-durability); an
    /// unknown schema and garbage are told apart.
    pub fn from_bytes(bytes: &[u8], upgrade: &Upgrade) -> Result<State, String> {
        // The current schema parses straight into the state: going through a
        // `serde_json::Value` tree first tripled start-up with 100,000 tokens.
        if State::schema_of(bytes) == Some(u64::from(SCHEMA)) {
            if let Ok(state) = serde_json::from_slice::<State>(bytes) {
                return super::migrate::checked(state);
            }
        }
        // Older schemas, and every error message, take the general path.
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        super::migrate::state(value, upgrade)
    }

    /// Parses bytes that must hold the current schema, as a shared database does
    /// (its backend arrived with schema 2): an older schema is refused rather than
    /// upgraded, since the identity an upgrade needs is not known here.
    pub fn from_current_bytes(bytes: &[u8]) -> Result<State, String> {
        match State::schema_of(bytes) {
            Some(v) if v < u64::from(SCHEMA) => Err(format!(
                "schema {v}: a database holds only schema {SCHEMA} and newer"
            )),
            _ => {
                let value: serde_json::Value =
                    serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
                let unused = Upgrade {
                    id: String::new(),
                    display_phone_number: String::new(),
                    verified_name: String::new(),
                };
                super::migrate::state(value, &unused)
            }
        }
    }

    /// The schema a state file's bytes declare, if they are JSON with one. Every
    /// other field is skipped without being built, so this costs a scan, not a tree.
    pub fn schema_of(bytes: &[u8]) -> Option<u64> {
        #[derive(Deserialize)]
        struct Peek {
            schema: Option<u64>,
        }
        serde_json::from_slice::<Peek>(bytes).ok()?.schema
    }
}

/// A seed state for store tests: admin hash `h`, one registered number `1`.
#[cfg(test)]
pub(crate) fn test_state(must_change: bool) -> State {
    State::seed(
        Secret::new("h"),
        must_change,
        vec![NumberRecord::new("1", "+1 5550100", "Test", true)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_seed_markers_carry_their_salt_and_old_ones_still_count() {
        let marker = deferred_seed_hash("c2FsdHNhbHRzYWx0c2FsdA");
        assert_eq!(
            marker,
            "deferred:seed-admin-password:c2FsdHNhbHRzYWx0c2FsdA"
        );
        assert_eq!(
            deferred_seed_salt(&marker),
            Some(Some("c2FsdHNhbHRzYWx0c2FsdA"))
        );
        assert_eq!(deferred_seed_salt(DEFERRED_SEED_HASH), Some(None));
        assert_eq!(
            deferred_seed_salt("$argon2id$v=19$m=64,t=1,p=1$abc$def"),
            None
        );
        assert_eq!(deferred_seed_salt("deferred:seed-admin-passwordX"), None);
    }

    #[test]
    fn a_state_round_trips_through_json() {
        let mut s = test_state(true);
        s.tokens.insert(
            "ab".into(),
            TokenRecord {
                username: "admin".into(),
                expires_at: 5,
                issued_ms: 0,
            },
        );
        s.cloud_tokens.insert(
            "cd".into(),
            CloudTokenRecord {
                scopes: vec![Scope::Management],
                expires_at: None,
                issued_ms: 1,
            },
        );
        let bytes = serde_json::to_vec(&s).unwrap();
        assert_eq!(State::from_bytes(&bytes, &Upgrade::for_tests()).unwrap(), s);
    }

    #[test]
    fn unknown_schema_and_garbage_are_told_apart() {
        let up = Upgrade::for_tests();
        assert!(State::from_bytes(b"{\"schema\": 999}", &up)
            .unwrap_err()
            .contains("unknown schema version 999"));
        assert!(State::from_bytes(b"{not json", &up)
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(State::from_bytes(b"[]", &up)
            .unwrap_err()
            .contains("no schema"));
    }

    #[test]
    fn expired_tokens_are_found() {
        let mut s = test_state(false);
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

    #[test]
    fn expired_cloud_tokens_are_kept_for_the_retention_then_swept() {
        let mut s = test_state(false);
        let t = |expires_at| CloudTokenRecord {
            scopes: Scope::ALL.to_vec(),
            expires_at,
            issued_ms: 0,
        };
        s.cloud_tokens.insert("never".into(), t(None));
        s.cloud_tokens.insert("old".into(), t(Some(10)));
        let swept_at = 10 + EXPIRED_CLOUD_TOKEN_RETENTION_SECS;
        assert!(s.stale_cloud_tokens(swept_at - 1).is_empty());
        assert_eq!(s.stale_cloud_tokens(swept_at), vec!["old".to_string()]);
    }

    #[test]
    fn numbers_are_found_by_id_and_the_first_is_the_on_premises_one() {
        let mut s = test_state(false);
        s.numbers
            .push(NumberRecord::new("2", "+1 5550101", "Two", false));
        assert_eq!(s.first_number().id, "1");
        assert_eq!(s.number("2").unwrap().verified_name, "Two");
        assert!(s.number("3").is_none());
        s.number_mut("2").unwrap().registered = true;
        assert!(s.number("2").unwrap().registered);
    }
}
