//! Users, login and tokens (SPEC §2): the rules of the real product's user
//! system, independent of HTTP. Tokens are 256 random bits; only their SHA-256
//! digest is kept, in memory and on disk.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::hasher::Hasher;
use super::limiter::Limiter;
use super::password::{BadUsername, Password, Username, WeakPassword};
use super::{flatten, Unavailable};
use crate::config::Settings;
use crate::secret::Secret;
use crate::store::state::{Role, TokenRecord, UserRecord, DEFERRED_SEED_HASH};
use crate::store::{now_secs, Op, State, Store};

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
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

impl From<super::hasher::HashError> for AccountError {
    fn from(e: super::hasher::HashError) -> Self {
        AccountError::Unavailable(e.into())
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

/// Credentials that passed `verify_login`.
#[derive(Debug)]
pub struct Verified {
    /// The user.
    username: String,
    /// The stored hash the password was verified against.
    hash: Secret,
    /// The real hash to store in place of a deferred seed hash.
    upgrade: Option<Secret>,
    /// The user must change the password at this login.
    change_required: bool,
}

/// A freshly issued token.
#[derive(Debug)]
pub struct Issued {
    /// The token itself; shown to the client once, never stored.
    pub token: Secret,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

/// The accounts service.
#[derive(Debug)]
pub struct Accounts {
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
    /// Failed logins per client address.
    failed_logins: Limiter,
    /// The state `seed_state` rebuilds (settings, overlaid by the seed file).
    seed: crate::seed::Seed,
    /// The seed admin password's hash, made on first use (see `DEFERRED_SEED_HASH`).
    seed_admin_hash: tokio::sync::OnceCell<Secret>,
}

/// Hex SHA-256 of a token: the key under which the token is stored.
pub fn token_digest(token: &str) -> String {
    let mut buf = [0u8; 64];
    hex_digest(token, &mut buf).to_owned()
}

/// Writes the hex SHA-256 of `token` into `buf`: the per-request token check needs
/// no allocation.
fn hex_digest<'b>(token: &str, buf: &'b mut [u8; 64]) -> &'b str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in Sha256::digest(token.as_bytes()).into_iter().enumerate() {
        buf[2 * i] = HEX[usize::from(b >> 4)];
        buf[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    std::str::from_utf8(buf).unwrap_or_default()
}

fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Accounts {
    /// Builds the service from the `[auth]` and `[account]` settings.
    pub fn new(store: Arc<Store>, hasher: Arc<Hasher>, settings: &Settings) -> Accounts {
        Accounts {
            store,
            hasher,
            ttl_secs: settings.auth.token_ttl_secs as i64,
            max_tokens: settings.auth.max_tokens_per_user as usize,
            evicted: AtomicU64::new(0),
            failed_logins: Limiter::new(
                settings.auth.max_failed_logins,
                Duration::from_secs(3600),
                settings.auth.login_limiter_capacity as usize,
            ),
            seed: crate::seed::Seed::from_settings(settings),
            seed_admin_hash: tokio::sync::OnceCell::new(),
        }
    }

    /// The stored hash to verify against, making the seed admin's on first use.
    async fn real_hash(&self, stored: Secret) -> Result<Secret, AccountError> {
        if stored.expose() != DEFERRED_SEED_HASH {
            return Ok(stored);
        }
        let hash = self
            .seed_admin_hash
            .get_or_try_init(|| self.hasher.hash(self.seed.admin_password().clone()))
            .await?;
        Ok(hash.clone())
    }

    /// Uses `seed` (a loaded seed file) instead of the settings' seed.
    pub fn with_seed(mut self, seed: crate::seed::Seed) -> Accounts {
        self.seed = seed;
        self
    }

    /// The seed state, with fresh hashes of its passwords and PIN.
    pub async fn seed_state(&self) -> Result<State, AccountError> {
        Ok(self.seed.state(&self.hasher).await?)
    }

    /// Tokens revoked so far because their user held `auth.max_tokens_per_user`.
    pub fn tokens_evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Client addresses the failed-login limiter remembers now.
    pub fn limiter_addresses(&self) -> usize {
        self.failed_logins.len()
    }

    /// Forgets all failed-login counts (sandbox reset).
    pub fn clear_failed_logins(&self) {
        self.failed_logins.clear();
    }

    /// The user holding `token`, if it is known and not expired. The lookup is by
    /// SHA-256 digest, so comparing bytes of the digest reveals nothing usable.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let mut buf = [0u8; 64];
        let digest = hex_digest(token, &mut buf);
        let now = now_secs();
        self.store.read(|state| {
            let record = state.tokens.get(digest)?;
            if record.expires_at <= now {
                return None;
            }
            let user = state.users.get(&record.username)?;
            Some(Principal {
                username: record.username.clone(),
                role: user.role,
            })
        })
    }

    /// `POST /v1/users/login`, first half: checks the Basic credentials (and the
    /// failed-login limit) before anything else about the request is looked at.
    pub async fn verify_login(
        &self,
        client: IpAddr,
        username: &str,
        password: Secret,
    ) -> Result<Verified, AccountError> {
        if self.failed_logins.is_blocked(client) {
            return Err(AccountError::RateLimited);
        }
        let stored = self.store.read(|s| s.users.get(username).cloned());
        let hash = match &stored {
            Some(user) => Some(self.real_hash(user.password_hash.clone()).await?),
            None => None,
        };
        // An unknown user is verified against a dummy hash: same argon2 work, no timing oracle.
        if !self.hasher.verify(password, hash.clone()).await? {
            self.failed_logins.record(client);
            return Err(AccountError::BadCredentials);
        }
        let (Some(user), Some(hash)) = (stored, hash) else {
            return Err(AccountError::BadCredentials);
        };
        let deferred = user.password_hash != hash;
        Ok(Verified {
            username: username.to_owned(),
            upgrade: deferred.then_some(hash),
            hash: user.password_hash,
            change_required: user.password_change_required,
        })
    }

    /// `POST /v1/users/login`, second half: applies a password change if asked
    /// (`new_password` is `None` when absent or empty) and issues a token.
    pub async fn issue_token(
        &self,
        verified: Verified,
        new_password: Option<&str>,
    ) -> Result<Issued, AccountError> {
        let new_hash = match new_password {
            Some(p) => {
                let p = Password::parse(p)?;
                Some(self.hasher.hash(Secret::new(p.expose())).await?)
            }
            None if verified.change_required => return Err(AccountError::PasswordChangeRequired),
            None => None,
        };
        let token = new_token();
        let expires_at = now_secs() + self.ttl_secs;
        let digest = token_digest(token.expose());
        let Verified {
            username,
            hash,
            upgrade,
            ..
        } = verified;
        let max_tokens = self.max_tokens;
        let evicted = self
            .store
            .commit(move |tx| {
                let mut user = tx
                    .state()
                    .users
                    .get(&username)
                    .cloned()
                    .ok_or(AccountError::BadCredentials)?;
                // The password changed (or the user was recreated) since it was verified.
                // A deferred seed hash that a concurrent first login replaced with the
                // real one is the same credential: every racing login computed that very
                // hash (one `OnceCell`), so they all pass instead of all but one.
                let upgraded_by_another = upgrade.as_ref() == Some(&user.password_hash);
                if user.password_hash != hash && !upgraded_by_another {
                    return Err(AccountError::BadCredentials);
                }
                if let Some(hash) = new_hash {
                    user.password_hash = hash;
                    user.password_change_required = false;
                    tx.push(Op::PutUser {
                        username: username.clone(),
                        user,
                    });
                } else if let Some(hash) = upgrade.filter(|_| !upgraded_by_another) {
                    user.password_hash = hash;
                    tx.push(Op::PutUser {
                        username: username.clone(),
                        user,
                    });
                }
                // Bounded growth: at the cap, the user's oldest tokens go first. Every
                // token lives `ttl_secs`, so the oldest is the one expiring first. The
                // scan is over all tokens, but a login already costs an argon2 run.
                let mut mine: Vec<(i64, &String)> = tx
                    .state()
                    .tokens
                    .iter()
                    .filter(|(_, t)| t.username == username)
                    .map(|(d, t)| (t.expires_at, d))
                    .collect();
                let excess = (mine.len() + 1).saturating_sub(max_tokens);
                let mut revoke = Vec::with_capacity(excess);
                if excess > 0 {
                    mine.select_nth_unstable(excess - 1);
                    revoke.extend(mine[..excess].iter().map(|(_, d)| (*d).clone()));
                }
                for digest in revoke {
                    tx.push(Op::DeleteToken { digest });
                }
                let token = TokenRecord {
                    username,
                    expires_at,
                };
                tx.push(Op::PutToken { digest, token });
                Ok(excess)
            })
            .await
            .map_err(flatten)?;
        self.evicted.fetch_add(evicted as u64, Ordering::Relaxed);
        Ok(Issued { token, expires_at })
    }

    /// `POST /v1/users/logout`: revokes `token`.
    pub async fn logout(&self, token: &str) -> Result<(), AccountError> {
        let digest = token_digest(token);
        self.store
            .commit(move |tx| {
                if tx.state().tokens.contains_key(&digest) {
                    tx.push(Op::DeleteToken { digest });
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }

    /// `POST /v1/users`: creates a `ROLE_USER` user who needs no password change.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<String, AccountError> {
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        if self.store.read(|s| s.users.contains_key(username.as_str())) {
            return Err(AccountError::UserExists);
        }
        let hash = self.hasher.hash(Secret::new(password.expose())).await?;
        let name = username.as_str().to_owned();
        self.store
            .commit(move |tx| {
                if tx.state().users.contains_key(&name) {
                    return Err(AccountError::UserExists);
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
    pub async fn change_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), AccountError> {
        if self.user_role(username).is_none() {
            return Err(AccountError::UserNotFound);
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
                    .ok_or(AccountError::UserNotFound)?;
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
    pub async fn delete_user(&self, username: &str) -> Result<(), AccountError> {
        if username == "admin" {
            return Err(AccountError::AdminUndeletable);
        }
        let name = username.to_owned();
        self.store
            .commit(move |tx| {
                if !tx.state().users.contains_key(&name) {
                    return Err(AccountError::UserNotFound);
                }
                tx.push(Op::DeleteUser { username: name });
                Ok(())
            })
            .await
            .map_err(flatten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_digests_are_hex_sha256() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tokens_are_url_safe_and_256_bits() {
        let t = new_token();
        assert_eq!(t.expose().len(), 43);
        assert!(t
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(new_token(), t);
    }
}
