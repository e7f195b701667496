//! Cloud API access tokens (docs/behaviour.md#cloud-tokens): opaque strings that
//! start with `EAA` and carry at least 256 random bits, with scopes and an
//! optional expiry. They come from the static `cloud.access_token`, from a seed
//! file, or from the control plane's mint. Only a token's digest (BLAKE2s-256) is kept,
//! in memory and on disk (the same digest as the On-Premises tokens'), so a leaked
//! state file holds no usable token; a minted token is durable before it is shown.
//! An expired token is remembered for a while so it can be answered "expired".

use std::sync::Arc;

use rand_core::{OsRng, RngCore};

use super::users::tokens::{digest_key, find, token_digest};
use super::{flatten, Unavailable};
use crate::clock::{now_ms, now_secs};
use crate::secret::Secret;
use crate::store::state::CloudTokenRecord;
use crate::store::{Op, Store};

/// A token's permission: the store's type, named through the domain.
pub use crate::store::state::Scope;

/// Most Cloud tokens kept: a mint past it revokes the oldest issued first, so the
/// state cannot grow without bound however often a test suite mints.
pub const MAX_CLOUD_TOKENS: usize = 10_000;

/// Random characters of a minted token after `EAA`: 44 from 62 letters and
/// digits are 261 bits.
const MINTED_CHARS: usize = 44;

/// A Cloud token a person chose (`cloud.access_token`, a seed file), checked
/// against the shape Meta's tokens have. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudToken(Secret);

impl CloudToken {
    /// Parses a token; the error says the rule, never the value.
    pub fn parse(s: &str) -> Result<CloudToken, &'static str> {
        crate::config::check_cloud_token(s)?;
        Ok(CloudToken(Secret::new(s)))
    }

    /// The hex SHA-256 digest it is stored under.
    pub fn digest(&self) -> String {
        token_digest(self.0.expose())
    }
}

impl std::fmt::Debug for CloudToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloudToken(***)")
    }
}

/// Scopes in the stored form: sorted, no repeats.
pub fn normalized(mut scopes: Vec<Scope>) -> Vec<Scope> {
    scopes.sort();
    scopes.dedup();
    scopes
}

/// A token just minted: shown once, never stored.
#[derive(Debug)]
pub struct Minted {
    /// The token.
    pub token: Secret,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// Expiry, Unix seconds; `None`: never.
    pub expires_at: Option<i64>,
}

/// What a valid token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl Access {
    /// Whether the token carries `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Why a token does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudAuthError {
    /// Not a token this server issued (or long expired).
    Unknown,
    /// It expired at `expired_at` (Unix seconds); `now` is when it was presented.
    Expired {
        /// Its expiry.
        expired_at: i64,
        /// The time of the check.
        now: i64,
    },
}

/// The Cloud token service.
#[derive(Debug)]
pub struct CloudTokens {
    /// Durable state.
    store: Arc<Store>,
    /// Digest of `cloud.access_token`, if set: valid with both scopes, never
    /// expiring, and not in the state (a change of the setting applies at the next
    /// start, whatever the state file holds).
    static_digest: Option<String>,
}

/// A fresh token: `EAA` and 44 (`MINTED_CHARS`) letters and digits from the OS
/// random source (also what `Sandbox` gives itself as its static token).
pub fn new_token() -> Secret {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(3 + MINTED_CHARS);
    out.push_str("EAA");
    let mut buf = [0u8; 64];
    while out.len() < 3 + MINTED_CHARS {
        OsRng.fill_bytes(&mut buf);
        // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == 3 + MINTED_CHARS {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(*b % 62)]));
        }
    }
    Secret::new(out)
}

impl CloudTokens {
    /// Builds the service; `static_token` is `cloud.access_token` (empty: none).
    pub fn new(store: Arc<Store>, static_token: &Secret) -> CloudTokens {
        let static_digest = (!static_token.is_empty()).then(|| token_digest(static_token.expose()));
        CloudTokens {
            store,
            static_digest,
        }
    }

    /// What `token` may do, or why it may not. The lookup is by digest, so
    /// comparing bytes of the digest reveals nothing usable.
    pub fn authenticate(&self, token: &str) -> Result<Access, CloudAuthError> {
        if let Some(static_digest) = &self.static_digest {
            let mut buf = [0u8; 67];
            if static_digest == digest_key(token, &mut buf) {
                return Ok(Access {
                    scopes: Scope::ALL.to_vec(),
                });
            }
        }
        let now = now_secs();
        self.store.read(|state| {
            let (_, record) = find(&state.cloud_tokens, token).ok_or(CloudAuthError::Unknown)?;
            match record.expires_at {
                Some(expired_at) if expired_at <= now => {
                    Err(CloudAuthError::Expired { expired_at, now })
                }
                _ => Ok(Access {
                    scopes: record.scopes.clone(),
                }),
            }
        })
    }

    /// Mints a token with `scopes` that expires `expires_in` seconds from now
    /// (`None`: never; 0: at once, for testing expiry). Durable before it returns.
    pub async fn mint(
        &self,
        scopes: Vec<Scope>,
        expires_in: Option<u64>,
    ) -> Result<Minted, Unavailable> {
        let scopes = normalized(scopes);
        let token = new_token();
        let digest = token_digest(token.expose());
        let expires_at = expires_in.map(|s| now_secs().saturating_add(s as i64));
        let record = CloudTokenRecord {
            scopes: scopes.clone(),
            expires_at,
            issued_ms: now_ms(),
        };
        self.store
            .commit(move |tx| {
                for digest in oldest_over_cap(tx.state(), MAX_CLOUD_TOKENS) {
                    tx.push(Op::DeleteCloudToken { digest });
                }
                tx.push(Op::PutCloudToken {
                    digest,
                    token: record,
                });
                Ok::<_, Unavailable>(())
            })
            .await
            .map_err(flatten)?;
        Ok(Minted {
            token,
            scopes,
            expires_at,
        })
    }

    /// Tokens that authenticate now (the static one included).
    pub fn live(&self) -> usize {
        let now = now_secs();
        let stored = self.store.read(|s| {
            let live = s.cloud_tokens.values();
            live.filter(|t| t.expires_at.is_none_or(|at| at > now))
                .count()
        });
        stored + usize::from(self.static_digest.is_some())
    }
}

/// Digests of the oldest issued tokens that must go so one more fits under `max`.
fn oldest_over_cap(state: &crate::store::State, max: usize) -> Vec<String> {
    let excess = (state.cloud_tokens.len() + 1).saturating_sub(max);
    if excess == 0 {
        return Vec::new();
    }
    let mut all: Vec<(i64, &String)> = state
        .cloud_tokens
        .iter()
        .map(|(d, t)| (t.issued_ms, d))
        .collect();
    all.select_nth_unstable(excess - 1);
    all[..excess].iter().map(|(_, d)| (*d).clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::state::test_state;

    #[test]
    fn minted_tokens_have_the_shape_a_person_may_choose_and_differ() {
        let a = new_token();
        assert_eq!(a.expose().len(), 47);
        assert!(CloudToken::parse(a.expose()).is_ok());
        assert_ne!(new_token(), a);
    }

    #[test]
    fn chosen_tokens_follow_the_rule_and_debug_hides_them() {
        let good = format!("EAA{}", "x".repeat(32));
        assert_eq!(
            format!("{:?}", CloudToken::parse(&good).unwrap()),
            "CloudToken(***)"
        );
        for bad in [
            "EAAshort".to_owned(),
            format!("EAB{}", "x".repeat(32)),
            format!("EAA{}-", "x".repeat(32)),
            format!("EAA{}", "x".repeat(510)),
        ] {
            assert!(CloudToken::parse(&bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn minted_static_expired_and_unknown_tokens_authenticate_as_they_should() {
        let store = Arc::new(Store::new(None, test_state(false)));
        let static_token = Secret::new(format!("EAA{}", "s".repeat(32)));
        let tokens = CloudTokens::new(store, &static_token);
        assert_eq!(tokens.live(), 1);
        assert_eq!(
            tokens.authenticate(static_token.expose()).unwrap().scopes,
            Scope::ALL.to_vec()
        );
        let messaging = tokens
            .mint(vec![Scope::Messaging, Scope::Messaging], None)
            .await
            .unwrap();
        assert_eq!(messaging.scopes, vec![Scope::Messaging]);
        let access = tokens.authenticate(messaging.token.expose()).unwrap();
        assert!(access.has(Scope::Messaging) && !access.has(Scope::Management));
        let expired = tokens.mint(Scope::ALL.to_vec(), Some(0)).await.unwrap();
        assert!(matches!(
            tokens.authenticate(expired.token.expose()),
            Err(CloudAuthError::Expired { .. })
        ));
        assert_eq!(tokens.authenticate("EAAnope"), Err(CloudAuthError::Unknown));
        assert_eq!(tokens.live(), 2);
    }

    #[test]
    fn the_cap_revokes_the_oldest_issued_first() {
        let mut state = test_state(false);
        for (digest, issued_ms) in [("a", 3), ("b", 1), ("c", 2)] {
            let record = CloudTokenRecord {
                scopes: vec![Scope::Management],
                expires_at: None,
                issued_ms,
            };
            state.cloud_tokens.insert(digest.into(), record);
        }
        assert!(oldest_over_cap(&state, 4).is_empty());
        assert_eq!(oldest_over_cap(&state, 3), vec!["b".to_string()]);
    }
}
