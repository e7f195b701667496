//! argon2id hashing and verifying on a bounded blocking pool (SPEC §9).
//!
//! Hashing never runs on the async workers: each job holds a semaphore slot and
//! runs in `spawn_blocking`. At most `max_concurrent` run at once; when
//! `max_queue` requests already wait for a slot, the next gets `Overloaded` at
//! once (503 / 1016) instead of queueing without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use tokio::sync::Semaphore;

use crate::config::Argon2Settings;
use crate::secret::Secret;

/// Why a hashing job did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many requests already wait for a slot.
    #[error("argon2 queue is full")]
    Overloaded,
    /// argon2 itself failed (bad parameters, a corrupt stored hash).
    #[error("argon2 failed: {0}")]
    Internal(String),
}

/// The argon2id service shared by logins, user management and two-step.
#[derive(Debug)]
pub struct Hasher {
    /// Configured argon2id instance for new hashes (verifying reads the stored parameters).
    argon2: Argon2<'static>,
    /// One permit per job allowed to run at once.
    slots: Arc<Semaphore>,
    /// Requests waiting for a permit right now.
    waiting: AtomicUsize,
    /// The most requests allowed to wait.
    max_queue: usize,
    /// A hash of a random secret, verified against when a user does not exist so
    /// that an unknown name costs the same argon2 work as a known one.
    dummy: OnceLock<String>,
}

/// Decrements the waiting count even if the waiting request is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hasher {
    /// Builds the service; `slots` is the number of jobs that may run at once.
    pub fn new(settings: &Argon2Settings, slots: usize) -> Result<Hasher, HashError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| HashError::Internal(e.to_string()))?;
        Ok(Hasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            slots: Arc::new(Semaphore::new(slots.max(1))),
            waiting: AtomicUsize::new(0),
            max_queue: settings.max_queue as usize,
            dummy: OnceLock::new(),
        })
    }

    /// Requests waiting for a hashing slot right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Hashes `secret` with a fresh random salt; returns the PHC string.
    pub async fn hash(self: &Arc<Self>, secret: Secret) -> Result<Secret, HashError> {
        self.run(move |h| h.hash_blocking(secret.expose())).await?
    }

    /// Checks `secret` against a stored PHC hash. With `None` (an unknown user) it
    /// verifies against a dummy hash and returns false, costing the same work.
    pub async fn verify(
        self: &Arc<Self>,
        secret: Secret,
        hash: Option<Secret>,
    ) -> Result<bool, HashError> {
        self.run(move |h| match hash {
            Some(hash) => h.verify_blocking(secret.expose(), hash.expose()),
            None => {
                let dummy = h.dummy_hash()?;
                h.verify_blocking(secret.expose(), &dummy)?;
                Ok(false)
            }
        })
        .await?
    }

    fn hash_blocking(&self, secret: &str) -> Result<Secret, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| Secret::new(h.to_string()))
            .map_err(|e| HashError::Internal(e.to_string()))
    }

    fn verify_blocking(&self, secret: &str, hash: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(hash).map_err(|e| HashError::Internal(e.to_string()))?;
        // The stored string carries its own parameters; the comparison inside is constant-time.
        match self.argon2.verify_password(secret.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(HashError::Internal(e.to_string())),
        }
    }

    fn dummy_hash(&self) -> Result<String, HashError> {
        if let Some(d) = self.dummy.get() {
            return Ok(d.clone());
        }
        let mut random = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut random);
        let hash = self.hash_blocking(&format!("{random:?}"))?;
        Ok(self.dummy.get_or_init(|| hash.expose().to_owned()).clone())
    }

    async fn run<T, F>(self: &Arc<Self>, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&Hasher) -> T + Send + 'static,
    {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(HashError::Overloaded);
                }
                let _waiting = Waiting(&self.waiting);
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|e| HashError::Internal(e.to_string()))?
            }
        };
        let hasher = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job(&hasher)
        })
        .await
        .map_err(|e| HashError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Settings {
        Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
            max_queue: 0,
        }
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_and_verifies_only_its_secret() {
        let h = Arc::new(Hasher::new(&cheap(), 1).unwrap());
        let hash = h.hash(Secret::new("123456")).await.unwrap();
        assert!(hash.expose().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h
            .verify(Secret::new("123456"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!h.verify(Secret::new("123457"), Some(hash)).await.unwrap());
        assert!(!h.verify(Secret::new("123456"), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let mut s = cheap();
        s.memory_kib = 32 * 1024;
        s.iterations = 4;
        let h = Arc::new(Hasher::new(&s, 1).unwrap());
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                let h = Arc::clone(&h);
                tokio::spawn(async move { h.hash(Secret::new("x")).await })
            })
            .collect();
        let mut overloaded = 0;
        for j in jobs {
            if matches!(j.await.unwrap(), Err(HashError::Overloaded)) {
                overloaded += 1;
            }
        }
        assert!(
            overloaded >= 1,
            "with one slot and no queue, concurrent jobs must be shed"
        );
        assert_eq!(h.queue_depth(), 0);
    }
}
