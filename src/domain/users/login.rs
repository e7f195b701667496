//! Logging in and out: Basic credentials against the stored argon2id
//! hash, the failed-login limit, the forced password change, and bearer tokens
//! checked on every request.

use std::net::IpAddr;

use std::sync::atomic::Ordering;

use super::tokens::{find, new_token, oldest_over_cap, token_digest};
use super::{Principal, UserError, Users};
use crate::clock::now_secs;
use crate::domain::flatten;
use crate::domain::password::Password;
use crate::secret::Secret;
use crate::store::state::{TokenRecord, UserRecord};
use crate::store::Op;

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

impl Users {
    /// The user holding `token`, if it is known and not expired. The lookup is by
    /// digest, so comparing bytes of the digest reveals nothing usable.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let now = now_secs();
        self.store.read(|state| {
            let (_, record) = find(&state.tokens, token)?;
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

    /// Whether `client` is past the failed-login limit (a login that brings no
    /// credentials to verify is refused 429 then too).
    pub async fn login_blocked(&self, client: IpAddr) -> Result<bool, UserError> {
        Ok(self.failed_logins.is_blocked(&client).await?)
    }

    /// `POST /v1/users/login`, first half: checks the Basic credentials (and the
    /// failed-login limit) before anything else about the request is looked at.
    pub async fn verify_login(
        &self,
        client: IpAddr,
        username: &str,
        password: Secret,
    ) -> Result<Verified, UserError> {
        // The attempt is counted before the password is checked and handed back
        // unless it was wrong: checking first and counting after let parallel
        // wrong logins all pass the check before any of them was counted.
        if self.failed_logins.take(&client).await?.is_err() {
            return Err(UserError::RateLimited);
        }
        let checked = self.check_password(username, password).await;
        if !matches!(checked, Ok(None)) {
            // Right, or not decided (a full queue, a lost database): no failure.
            self.failed_logins.give_back(&client).await?;
        }
        let Some((user, hash)) = checked? else {
            return Err(UserError::BadCredentials);
        };
        let deferred = user.password_hash != hash;
        Ok(Verified {
            username: username.to_owned(),
            upgrade: deferred.then_some(hash),
            hash: user.password_hash,
            change_required: user.password_change_required,
        })
    }

    /// The user and its real hash when `password` is theirs; `None` when the name
    /// or the password is wrong. An unknown user is verified against a dummy hash:
    /// the same argon2 work, no timing oracle.
    async fn check_password(
        &self,
        username: &str,
        password: Secret,
    ) -> Result<Option<(UserRecord, Secret)>, UserError> {
        let stored = self.store.read(|s| s.users.get(username).cloned());
        let hash = match &stored {
            Some(user) => Some(self.real_hash(user.password_hash.clone()).await?),
            None => None,
        };
        if !self.hasher.verify(password, hash.clone()).await? {
            return Ok(None);
        }
        Ok(stored.zip(hash))
    }

    /// `POST /v1/users/login`, second half: applies a password change if asked
    /// (`new_password` is `None` when absent or empty) and issues a token.
    pub async fn issue_token(
        &self,
        verified: Verified,
        new_password: Option<&str>,
    ) -> Result<Issued, UserError> {
        let new_hash = match new_password {
            Some(p) => {
                let p = Password::parse(p)?;
                Some(self.hasher.hash(Secret::new(p.expose())).await?)
            }
            None if verified.change_required => return Err(UserError::PasswordChangeRequired),
            None => None,
        };
        let token = new_token();
        let expires_at = now_secs() + self.ttl_secs;
        let issued_ms = crate::clock::now_ms();
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
                    .ok_or(UserError::BadCredentials)?;
                // The password changed (or the user was recreated) since it was verified.
                // A deferred seed hash that a concurrent first login replaced with the
                // real one is the same credential: every racing login computed that very
                // hash (one `OnceCell`), so they all pass instead of all but one.
                let upgraded_by_another = upgrade.as_ref() == Some(&user.password_hash);
                if user.password_hash != hash && !upgraded_by_another {
                    return Err(UserError::BadCredentials);
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
                // Bounded growth: at the cap, the user's oldest tokens go first.
                let revoked = oldest_over_cap(tx.state(), &username, max_tokens);
                let evicted = revoked.len();
                for digest in revoked {
                    tx.push(Op::DeleteToken { digest });
                }
                let token = TokenRecord {
                    username,
                    expires_at,
                    issued_ms,
                };
                tx.push(Op::PutToken { digest, token });
                Ok(evicted)
            })
            .await
            .map_err(flatten)?;
        self.evicted.fetch_add(evicted as u64, Ordering::Relaxed);
        Ok(Issued { token, expires_at })
    }

    /// `POST /v1/users/logout`: revokes `token`.
    pub async fn logout(&self, token: &str) -> Result<(), UserError> {
        let token = token.to_owned();
        self.store
            .commit(move |tx| {
                // Under its current key or an earlier release's.
                if let Some((digest, _)) = find(&tx.state().tokens, &token) {
                    let digest = digest.clone();
                    tx.push(Op::DeleteToken { digest });
                }
                Ok(())
            })
            .await
            .map_err(flatten)
    }
}
