//! Users (docs/behaviour.md#users-login-and-tokens): the [`Users`] service, which owns the user records, login
//! and tokens, independent of HTTP. User management lives here; logging in and
//! out in [`login`]; how tokens are made and stored in [`tokens`].

pub mod login;
pub mod tokens;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::hasher::Hasher;
use super::limiter::Budget;
use super::password::{BadUsername, Password, Username, WeakPassword};
use super::seed::Seed;
use super::{flatten, Unavailable};
use crate::config::Settings;
use crate::secret::Secret;
use crate::store::state::{deferred_seed_salt, UserRecord};
use crate::store::{Op, State, Store};

/// A user's role: the store's type, re-exported so the edge names it through the domain.
pub use crate::store::state::Role;

/// Why a users, login or token operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Wrong or missing credentials (login: 401 with an empty body).
    #[error("bad credentials")]
    BadCredentials,
    /// Too many failed logins from this address (429 / 1015).
    #[error("too many failed logins")]
    RateLimited,
    /// The password must be changed at this login (401 / 1024).
    #[error("password change required")]
    PasswordChangeRequired,
    /// A new password breaks the rule (400 / 1009).
    #[error(transparent)]
    WeakPassword(#[from] WeakPassword),
    /// A username breaks the rule (400 / 1009).
    #[error(transparent)]
    BadUsername(#[from] BadUsername),
    /// The username is taken (409 / 1004).
    #[error("user exists")]
    UserExists,
    /// No such user (404 / 1006).
    #[error("user does not exist")]
    UserNotFound,
    /// `admin` cannot be deleted (400 / 1009).
    #[error("admin cannot be deleted")]
    AdminUndeletable,
    /// Overload or an internal failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

impl From<super::hasher::HashError> for UserError {
    fn from(e: super::hasher::HashError) -> Self {
        UserError::Unavailable(e.into())
    }
}

/// The user a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Username.
    pub username: String,
    /// Role.
    pub role: Role,
}

/// The users service: user records, login and tokens.
#[derive(Debug)]
pub struct Users {
    /// Durable state.
    store: Arc<Store>,
    /// argon2id pool.
    hasher: Arc<Hasher>,
    /// Token lifetime in seconds.
    ttl_secs: i64,
    /// Live tokens one user may hold (`auth.max_tokens_per_user`).
    max_tokens: usize,
    /// Tokens revoked because their user reached `max_tokens`.
    evicted: AtomicU64,
    /// Failed logins per client address (shared by every server with a database).
    failed_logins: Budget,
    /// The state `seed_state` rebuilds (settings, overlaid by the seed file).
    seed: Seed,
    /// The seed admin password's hash, made on first use, for a bare deferred
    /// marker of an earlier release (see `DEFERRED_SEED_HASH`).
    seed_admin_hash: tokio::sync::OnceCell<Secret>,
    /// The same for a marker with its salt: the salt and the hash made with it.
    /// Concurrent first logins wait here for one hash.
    seed_admin_salted: tokio::sync::Mutex<Option<(String, Secret)>>,
}

impl Users {
    /// Builds the service from the `[auth]` and `[account]` settings.
    pub fn new(store: Arc<Store>, hasher: Arc<Hasher>, settings: &Settings) -> Users {
        Users {
            hasher,
            ttl_secs: settings.auth.token_ttl_secs as i64,
            max_tokens: settings.auth.max_tokens_per_user as usize,
            evicted: AtomicU64::new(0),
            failed_logins: Budget::new(
                &store,
                "failed_logins",
                settings.auth.max_failed_logins,
                Duration::from_secs(3600),
                settings.auth.login_limiter_capacity as usize,
            ),
            seed: Seed::from_settings(settings),
            seed_admin_hash: tokio::sync::OnceCell::new(),
            seed_admin_salted: tokio::sync::Mutex::new(None),
            store,
        }
    }

    /// The stored hash to verify against, making the seed admin's on first use.
    async fn real_hash(&self, stored: Secret) -> Result<Secret, UserError> {
        let salt = match deferred_seed_salt(stored.expose()) {
            None => return Ok(stored),
            Some(None) => {
                let hash = self
                    .seed_admin_hash
                    .get_or_try_init(|| self.hasher.hash(self.seed.admin_password().clone()))
                    .await?;
                return Ok(hash.clone());
            }
            Some(Some(salt)) => salt,
        };
        let mut cached = self.seed_admin_salted.lock().await;
        if let Some((for_salt, hash)) = &*cached {
            if for_salt == salt {
                return Ok(hash.clone());
            }
        }
        let hash = self
            .hasher
            .hash_with_salt(self.seed.admin_password().clone(), salt)
            .await?;
        *cached = Some((salt.to_owned(), hash.clone()));
        Ok(hash)
    }

    /// Uses `seed` (a loaded seed file) instead of the settings' seed.
    pub fn with_seed(mut self, seed: Seed) -> Users {
        self.seed = seed;
        self
    }

    /// The seed state, with fresh hashes of its passwords and PIN.
    pub async fn seed_state(&self) -> Result<State, UserError> {
        Ok(self.seed.state(&self.hasher).await?)
    }

    /// Tokens revoked so far because their user held `auth.max_tokens_per_user`.
    pub fn tokens_evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Client addresses the failed-login limiter remembers now: in this server's
    /// memory, or with a shared state in the database (every server's).
    pub async fn limiter_addresses(&self) -> Result<usize, Unavailable> {
        self.failed_logins.keys().await
    }

    /// Forgets all failed-login counts (control-plane reset).
    pub async fn clear_failed_logins(&self) -> Result<(), Unavailable> {
        self.failed_logins.clear().await
    }

    /// `POST /v1/users`: creates a `ROLE_USER` user who needs no password change.
    pub async fn create_user(&self, username: &str, password: &str) -> Result<String, UserError> {
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        if self.store.read(|s| s.users.contains_key(username.as_str())) {
            return Err(UserError::UserExists);
        }
        let hash = self.hasher.hash(Secret::new(password.expose())).await?;
        let name = username.as_str().to_owned();
        self.store
            .commit(move |tx| {
                if tx.state().users.contains_key(&name) {
                    return Err(UserError::UserExists);
                }
                let user = UserRecord {
                    role: Role::User,
                    password_hash: hash,
                    password_change_required: false,
                };
                tx.push(Op::PutUser {
                    username: name.clone(),
                    user,
                });
                Ok(name)
            })
            .await
            .map_err(flatten)
    }

    /// `GET /v1/users/{name}`: the user's role, if the user exists.
    pub fn user_role(&self, username: &str) -> Option<Role> {
        self.store.read(|s| s.users.get(username).map(|u| u.role))
    }

    /// `PUT /v1/users/{name}`: sets a new password.
    pub async fn change_password(&self, username: &str, password: &str) -> Result<(), UserError> {
        if self.user_role(username).is_none() {
            return Err(UserError::UserNotFound);
        }
        let password = Password::parse(password)?;
        let hash = self.hasher.hash(Secret::new(password.expose())).await?;
        let name = username.to_owned();
        self.store
            .commit(move |tx| {
                let mut user = tx
                    .state()
                    .users
                    .get(&name)
                    .cloned()
                    .ok_or(UserError::UserNotFound)?;
                user.password_hash = hash;
                user.password_change_required = false;
                tx.push(Op::PutUser {
                    username: name,
                    user,
                });
                Ok(())
            })
            .await
            .map_err(flatten)
    }

    /// `DELETE /v1/users/{name}`: removes the user and revokes all their tokens.
    pub async fn delete_user(&self, username: &str) -> Result<(), UserError> {
        if username == "admin" {
            return Err(UserError::AdminUndeletable);
        }
        let name = username.to_owned();
        self.store
            .commit(move |tx| {
                if !tx.state().users.contains_key(&name) {
                    return Err(UserError::UserNotFound);
                }
                tx.push(Op::DeleteUser { username: name });
                Ok(())
            })
            .await
            .map_err(flatten)
    }
}
