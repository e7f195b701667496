//! The seed: the state the server starts from when no state file exists, and the
//! state `POST /__sandbox/reset` returns to (docs/behaviour.md#login, docs/behaviour.md#control-plane).
//!
//! Without a seed file it is the `[auth]`/`[account]` settings' single admin and
//! the `[cloud]`/`[account]` first number. A seed file (`state.seed`, `--seed
//! FILE`; TOML, or JSON when the name ends in `.json`) overrides the admin's
//! password and password-change flag, adds users, enables two-step on the first
//! number with a PIN and sets its registration status, adds more numbers (each
//! with its own status and PIN) and Cloud access tokens. The file is read
//! and checked once, at start, with the API's own rules (`Username`, `Password`,
//! `Pin`); a bad file is a configuration error (exit 2). No error message carries
//! a password or PIN: parse errors are reported by position and key, never with
//! the offending text. The file's shape and parsing are in [`file`](mod@file), its
//! numbers and Cloud tokens in `cloud`.

mod cloud;
pub mod file;

pub use file::Format;

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Settings;
use crate::domain::cloud_tokens::{CloudToken, Scope};
use crate::domain::hasher::{HashError, Hasher};
use crate::domain::numbers::PhoneNumberId;
use crate::domain::password::{Password, Username};
use crate::domain::pin::Pin;
use crate::secret::Secret;
use crate::store::state::{
    deferred_seed_hash, CloudTokenRecord, NumberRecord, Role, TwoStepRecord, UserRecord,
};
use crate::store::{State, Upgrade};

/// A seed, checked and ready to be hashed into a [`State`]. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The admin's password.
    admin_password: Secret,
    /// The admin must set a new password at first login.
    admin_must_change: bool,
    /// `ROLE_USER` users, in file order; none is `admin`, no name twice.
    users: Vec<(Username, Password)>,
    /// The first number, with its PIN (`[two_step]`) and status (`[account]`).
    first: SeedNumber,
    /// `[[numbers]]`: more numbers of the WABA, in file order; no ID twice.
    numbers: Vec<SeedNumber>,
    /// `[[cloud_tokens]]`: Cloud access tokens with their scopes; no token twice.
    cloud_tokens: Vec<(CloudToken, Vec<Scope>)>,
    /// `cloud.waba_id`: no number may take it.
    waba_id: String,
    /// `account.vname`: the verified name of a declared number that names none.
    vname: String,
}

/// A phone number of the seed.
#[derive(Debug, Clone)]
pub struct SeedNumber {
    /// Its ID.
    pub id: PhoneNumberId,
    /// Its display number.
    pub display_phone_number: String,
    /// Its verified name.
    pub verified_name: String,
    /// It starts registered.
    pub registered: bool,
    /// Two-step is enabled with this PIN; `None`: disabled.
    pub pin: Option<Pin>,
}

impl SeedNumber {
    /// The record of this number, its PIN hashed afresh.
    async fn record(&self, hasher: &Arc<Hasher>) -> Result<NumberRecord, HashError> {
        let mut record = NumberRecord::new(
            self.id.as_str(),
            &self.display_phone_number,
            &self.verified_name,
            self.registered,
        );
        if let Some(pin) = &self.pin {
            record.two_step = TwoStepRecord {
                enabled: true,
                pin_hash: Some(hasher.hash(Secret::new(pin.expose())).await?),
                updated_at_ms: None,
            };
        }
        Ok(record)
    }
}

/// A seed file that cannot be used; the message names the file and the problem.
#[derive(Debug, thiserror::Error)]
#[error("seed file {}: {problem}", path.display())]
pub struct SeedError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it (a key path and the rule it breaks, or an I/O error).
    pub problem: String,
}

impl Seed {
    /// The seed the settings alone describe: one admin, one number, two-step disabled.
    pub fn from_settings(settings: &Settings) -> Seed {
        let account = &settings.account;
        // The settings were validated: the ID follows the rule.
        let id = PhoneNumberId::parse(&settings.cloud.phone_number_id)
            .unwrap_or_else(|_| PhoneNumberId::parse("1").expect("a valid ID"));
        Seed {
            admin_password: settings.auth.admin_password.clone(),
            admin_must_change: settings.auth.force_password_change,
            users: Vec::new(),
            first: SeedNumber {
                id,
                display_phone_number: format!("+{} {}", account.cc, account.phone_number),
                verified_name: account.vname.clone(),
                registered: account.registered,
                pin: None,
            },
            numbers: Vec::new(),
            cloud_tokens: Vec::new(),
            waba_id: settings.cloud.waba_id.clone(),
            vname: account.vname.clone(),
        }
    }

    /// How a state file of an older schema is upgraded: it described the first number.
    pub fn upgrade(&self) -> Upgrade {
        Upgrade {
            id: self.first.id.as_str().to_owned(),
            display_phone_number: self.first.display_phone_number.clone(),
            verified_name: self.first.verified_name.clone(),
        }
    }

    /// Every number of the seed, the first one first.
    pub fn numbers(&self) -> impl Iterator<Item = &SeedNumber> {
        std::iter::once(&self.first).chain(&self.numbers)
    }

    /// How many Cloud tokens the seed declares.
    pub fn cloud_token_count(&self) -> usize {
        self.cloud_tokens.len()
    }

    /// The settings' seed, overlaid by the seed file `state.seed` names (if any).
    pub fn load(settings: &Settings) -> Result<Seed, SeedError> {
        let base = Seed::from_settings(settings);
        let path = &settings.state.seed;
        if path.as_os_str().is_empty() {
            return Ok(base);
        }
        let fail = |problem: String| SeedError {
            path: path.clone(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        base.overlay(&text, Format::of(path)).map_err(fail)
    }

    /// The admin's password.
    pub fn admin_password(&self) -> &Secret {
        &self.admin_password
    }

    /// Whether the admin must set a new password at first login.
    pub fn admin_must_change_password(&self) -> bool {
        self.admin_must_change
    }

    /// The users besides `admin`, in file order.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|(name, _)| name.as_str())
    }

    /// Whether two-step starts enabled on the first number.
    pub fn two_step_enabled(&self) -> bool {
        self.first.pin.is_some()
    }

    /// Whether the first number starts registered.
    pub fn registered(&self) -> bool {
        self.first.registered
    }

    /// The state this seed describes, with every password and PIN hashed afresh
    /// (new salts each time), except the admin's, which is hashed on first use
    /// ([`crate::store::state::DEFERRED_SEED_HASH`], with the salt it will use).
    /// `two_step.updated_at` is null: the seed is not a
    /// change. Cloud tokens are kept as digests, never expiring.
    pub async fn state(&self, hasher: &Arc<Hasher>) -> Result<State, HashError> {
        let salt = argon2::password_hash::SaltString::generate(&mut rand_core::OsRng);
        let admin = Secret::new(deferred_seed_hash(salt.as_str()));
        let mut numbers = Vec::new();
        for number in self.numbers() {
            numbers.push(number.record(hasher).await?);
        }
        let mut state = State::seed(admin, self.admin_must_change, numbers);
        for (token, scopes) in &self.cloud_tokens {
            let record = CloudTokenRecord {
                scopes: scopes.clone(),
                expires_at: None,
                issued_ms: 0,
            };
            state.cloud_tokens.insert(token.digest(), record);
        }
        for (name, password) in &self.users {
            let hash = hasher.hash(Secret::new(password.expose())).await?;
            let record = UserRecord {
                role: Role::User,
                password_hash: hash,
                password_change_required: false,
            };
            state.users.insert(name.as_str().to_owned(), record);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Seed {
        Seed::from_settings(&Settings::default())
    }

    #[test]
    fn debug_shows_no_secret() {
        let seed = base()
            .overlay(
                "[admin]\npassword = \"Sandbox-Pa55!\"\n[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\n[two_step]\npin = \"987654\"\n",
                Format::Toml,
            )
            .unwrap();
        let debug = format!("{seed:?}");
        for secret in ["Sandbox-Pa55!", "Alice-Pa55!", "987654"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[tokio::test]
    async fn the_state_holds_hashes_that_verify() {
        let settings = crate::config::Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
            max_queue: 8,
        };
        let hasher = Arc::new(Hasher::new(&settings, 1).unwrap());
        let seed = base()
            .overlay(
                "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\n[two_step]\npin = \"123456\"\n",
                Format::Toml,
            )
            .unwrap();
        let state = seed.state(&hasher).await.unwrap();
        assert_eq!(state.users["alice"].role, Role::User);
        assert!(!state.users["alice"].password_change_required);
        assert!(state.users["admin"].password_change_required);
        let alice = state.users["alice"].password_hash.clone();
        assert!(hasher
            .verify(Secret::new("Alice-Pa55!"), Some(alice))
            .await
            .unwrap());
        let two_step = &state.first_number().two_step;
        assert!(two_step.enabled);
        assert_eq!(two_step.updated_at_ms, None);
        let pin = two_step.pin_hash.clone();
        assert!(hasher.verify(Secret::new("123456"), pin).await.unwrap());
        let again = seed.state(&hasher).await.unwrap();
        assert_ne!(
            again.users["alice"].password_hash, state.users["alice"].password_hash,
            "each state gets fresh salts"
        );
    }
}
