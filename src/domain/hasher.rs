//! argon2id hashing and verifying on a bounded blocking pool (docs/behaviour.md#limits-and-overload).
//!
//! A hash of real cost never runs on the async workers: each job holds a
//! semaphore slot and runs in `spawn_blocking`. At most `max_concurrent` run at
//! once; when `max_queue` requests already wait for a slot, the next gets
//! `Overloaded` at once (503 / 1016) instead of queueing without bound.
//!
//! A hash whose parameters make it tiny (at most [`INLINE_MAX_KIB_PASSES`]) runs
//! inline on the calling worker instead: the pool and its bound exist for
//! memory- and CPU-heavy hashes, and for a hash of a few tens of microseconds the
//! two thread hand-offs cost as much as the hash itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand_core::OsRng;
use tokio::sync::Semaphore;

use crate::config::Argon2Settings;
use crate::metrics;
use crate::secret::Secret;

/// Largest argon2 cost, memory (KiB) × passes, that runs inline on the calling
/// async worker rather than on the pool, for a one-lane hash. 64 KiB × 1 pass is 64
/// block compressions plus argon2's fixed BLAKE2b work (about 70 BLAKE2b blocks per
/// lane): about 0.4 M instructions, at most ~0.1 ms on the benchmark VM, within the
/// 10–100 µs tokio suggests between two `.await`s. More lanes add fixed work per lane, so they
/// always use the pool; so does the default cost (19 MiB × 2 passes, 600 times this).
pub const INLINE_MAX_KIB_PASSES: u64 = 64;

/// Whether a hash with these parameters runs inline (see [`INLINE_MAX_KIB_PASSES`]).
fn runs_inline(params: &Params) -> bool {
    params.p_cost() == 1
        && u64::from(params.m_cost()) * u64::from(params.t_cost()) <= INLINE_MAX_KIB_PASSES
}

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
    /// New hashes (and the dummy verification) are cheap enough to run inline.
    inline: bool,
    /// The PHC string of a new hash up to its salt: `$argon2id$v=19$m=…,t=…,p=…$`.
    phc_prefix: String,
    /// One permit per job allowed to run at once.
    slots: Arc<Semaphore>,
    /// The most requests allowed to wait.
    max_queue: usize,
    /// A hash of a random secret, verified against when a user does not exist so
    /// that an unknown name costs the same argon2 work as a known one.
    dummy: OnceLock<String>,
    /// argon2 working memory (19 MiB each at the default cost), reused across jobs
    /// instead of allocated and page-faulted anew; at most one per slot is kept.
    buffers: Mutex<Vec<Vec<Block>>>,
    /// Most buffers kept (the number of slots).
    max_buffers: usize,
    /// Waiting requests, jobs run and waits: shared with the metrics registry.
    counters: Arc<metrics::Argon2>,
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
        let params_string =
            ParamsString::try_from(&params).map_err(|e| HashError::Internal(e.to_string()))?;
        let phc_prefix = format!(
            "${}$v={}${params_string}$",
            Algorithm::Argon2id.ident(),
            u32::from(Version::V0x13)
        );
        Ok(Hasher {
            inline: runs_inline(&params),
            phc_prefix,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            slots: Arc::new(Semaphore::new(slots.max(1))),
            max_queue: settings.max_queue as usize,
            dummy: OnceLock::new(),
            buffers: Mutex::new(Vec::new()),
            max_buffers: slots.max(1),
            counters: Arc::default(),
        })
    }

    /// The pool's counters, for the metrics registry.
    pub fn counters(&self) -> &Arc<metrics::Argon2> {
        &self.counters
    }

    /// argon2 jobs run so far (hashes and verifications, the dummy one included).
    pub fn jobs_run(&self) -> u64 {
        self.counters.jobs.load(Ordering::Relaxed)
    }

    /// Requests waiting for a hashing slot right now.
    pub fn queue_depth(&self) -> usize {
        self.counters.waiting.load(Ordering::SeqCst)
    }

    /// Hashes `secret` with a fresh random salt; returns the PHC string.
    pub async fn hash(self: &Arc<Self>, secret: Secret) -> Result<Secret, HashError> {
        if self.inline {
            return self.hash_blocking(secret.expose());
        }
        self.run(move |h| h.hash_blocking(secret.expose())).await?
    }

    /// Hashes `secret` with `salt` (PHC B64) instead of a fresh one: the same
    /// secret, salt and settings give the same hash on every server. Only for the
    /// seed admin's deferred hash, whose salt is fixed in the shared state.
    pub async fn hash_with_salt(
        self: &Arc<Self>,
        secret: Secret,
        salt: &str,
    ) -> Result<Secret, HashError> {
        let mut bytes = [0u8; 64];
        let salt = SaltString::from_b64(salt)
            .and_then(|s| s.decode_b64(&mut bytes).map(<[u8]>::to_vec))
            .map_err(|e| HashError::Internal(e.to_string()))?;
        if self.inline {
            return self.hash_salted(secret.expose(), &salt);
        }
        self.run(move |h| h.hash_salted(secret.expose(), &salt))
            .await?
    }

    /// Checks `secret` against a stored PHC hash. With `None` (an unknown user) it
    /// verifies against a dummy hash and returns false, costing the same work.
    pub async fn verify(
        self: &Arc<Self>,
        secret: Secret,
        hash: Option<Secret>,
    ) -> Result<bool, HashError> {
        let inline = match &hash {
            // The stored string's own parameters decide; an unparsable one fails
            // inline, as cheaply as it would on the pool.
            Some(hash) => PasswordHash::new(hash.expose())
                .ok()
                .and_then(|parsed| Params::try_from(&parsed).ok())
                .is_none_or(|params| runs_inline(&params)),
            None => self.inline,
        };
        if inline {
            return match hash {
                Some(hash) => self.verify_blocking(secret.expose(), hash.expose()),
                None => {
                    let dummy = self.dummy_hash()?;
                    self.verify_blocking(secret.expose(), &dummy)?;
                    Ok(false)
                }
            };
        }
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

    /// Runs argon2 with a pooled working buffer.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        secret: &str,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashError> {
        self.counters.jobs.fetch_add(1, Ordering::Relaxed);
        let need = argon2.params().block_count();
        let pooled = self.buffers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut memory = pooled.unwrap_or_default();
        if memory.len() < need {
            memory.resize(need, Block::default());
        }
        let result = argon2
            .hash_password_into_with_memory(secret.as_bytes(), salt, out, &mut memory[..need])
            .map_err(|e| HashError::Internal(e.to_string()));
        let mut pool = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < self.max_buffers {
            pool.push(memory);
        }
        result
    }

    fn hash_blocking(&self, secret: &str) -> Result<Secret, HashError> {
        // What `SaltString::generate` does, keeping the raw bytes instead of
        // decoding them back out of the B64 text.
        let mut salt_bytes = [0u8; argon2::password_hash::Salt::RECOMMENDED_LENGTH];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt_bytes);
        self.hash_salted(secret, &salt_bytes)
    }

    fn hash_salted(&self, secret: &str, salt_bytes: &[u8]) -> Result<Secret, HashError> {
        let internal = |e: argon2::password_hash::Error| HashError::Internal(e.to_string());
        let salt = SaltString::encode_b64(salt_bytes).map_err(internal)?;
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute(&self.argon2, secret, salt_bytes, &mut output)?;
        let mut b64 = [0u8; 2 * Params::DEFAULT_OUTPUT_LEN];
        let output = Output::new(&output).map_err(internal)?;
        let output = output.b64_encode(&mut b64).map_err(internal)?;
        // The PHC string as `PasswordHash`'s `Display` writes it, from a prefix
        // (`$argon2id$v=19$m=…,t=…,p=…$`) built once.
        let mut phc = String::with_capacity(self.phc_prefix.len() + salt.len() + 1 + output.len());
        phc.push_str(&self.phc_prefix);
        phc.push_str(salt.as_str());
        phc.push('$');
        phc.push_str(output);
        Ok(Secret::new(phc))
    }

    fn verify_blocking(&self, secret: &str, hash: &str) -> Result<bool, HashError> {
        let internal = |e: argon2::password_hash::Error| HashError::Internal(e.to_string());
        let parsed = PasswordHash::new(hash).map_err(internal)?;
        // The stored string carries its own parameters, so old hashes still verify
        // after the configured cost changes.
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(internal)?;
        let version = parsed
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)
            .map_err(|e| HashError::Internal(e.to_string()))?;
        let params = Params::try_from(&parsed).map_err(internal)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(HashError::Internal(
                "stored hash lacks salt or output".into(),
            ));
        };
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(internal)?;
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = Output::init_with(expected.len(), |out| {
            self.compute(&argon2, secret, salt_bytes, out)
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(internal)?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
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
                let waiting = &self.counters.waiting;
                if waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
                    waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(HashError::Overloaded);
                }
                let _waiting = Waiting(waiting);
                let started = std::time::Instant::now();
                let permit = Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|e| HashError::Internal(e.to_string()))?;
                let waited = started.elapsed().as_micros() as u64;
                self.counters.waits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .wait_micros
                    .fetch_add(waited, Ordering::Relaxed);
                permit
            }
        };
        let hasher = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            lower_priority_once();
            job(&hasher)
        })
        .await
        .map_err(|e| HashError::Internal(e.to_string()))
    }
}

/// Lowers the calling (blocking-pool) thread's scheduling priority once, to nice 19,
/// the lowest of SCHED_OTHER. A hash takes milliseconds of CPU; when hashing threads
/// share a core with the async workers, equal priority lets a flood of PIN changes
/// add those milliseconds to the latency of requests that need no hashing. At nice 19
/// (weight 15 against the workers' 1024) the workers get ~98.5% of a contended core
/// (at nice 9, weight 110, ~90%), while hashes still progress and, with a free core,
/// run at full speed. SCHED_IDLE (weight 3) was tried and not kept: it could starve
/// hashes, and so every PIN change and login, behind steady traffic that needs none.
/// Measured on the benchmark VM (server pinned to one core), the DELETE p99 under a
/// POST flood was 4.0–5.4 ms at nice 9, nice 19 and SCHED_IDLE alike: the same probe
/// without any flood already has a 4.3–5.3 ms p99 there, so the priority is not what
/// that tail is made of. Only argon2 jobs run on this pool.
fn lower_priority_once() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    LOWERED.with(|lowered| {
        if !lowered.replace(true) {
            // `Min` maps to niceness 19 under SCHED_OTHER on Linux.
            let priority = thread_priority::ThreadPriority::Min;
            if let Err(e) = thread_priority::set_current_thread_priority(priority) {
                tracing::debug!(error = ?e, "could not lower the hashing thread's priority");
            }
        }
    });
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
    async fn a_given_salt_gives_the_same_hash_on_every_hasher() {
        let (a, b) = (
            Arc::new(Hasher::new(&cheap(), 1).unwrap()),
            Arc::new(Hasher::new(&cheap(), 1).unwrap()),
        );
        let salt = "c2FsdHNhbHRzYWx0c2FsdA";
        let one = a.hash_with_salt(Secret::new("secret"), salt).await.unwrap();
        let two = b.hash_with_salt(Secret::new("secret"), salt).await.unwrap();
        assert_eq!(one.expose(), two.expose());
        assert!(one.expose().contains(&format!("${salt}$")));
        assert!(a
            .verify(Secret::new("secret"), Some(one.clone()))
            .await
            .unwrap());
        let fresh = a.hash(Secret::new("secret")).await.unwrap();
        assert_ne!(
            fresh.expose(),
            one.expose(),
            "a fresh hash takes a fresh salt"
        );
        assert!(a
            .hash_with_salt(Secret::new("secret"), "not b64!")
            .await
            .is_err());
    }

    #[tokio::test]
    async fn hashes_from_the_argon2_crate_verify_and_ours_verify_there() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let h = Arc::new(Hasher::new(&cheap(), 1).unwrap());
        let theirs = h
            .argon2
            .hash_password(b"Sandbox-Pa55!", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(h
            .verify(Secret::new("Sandbox-Pa55!"), Some(Secret::new(theirs)))
            .await
            .unwrap());
        let ours = h.hash(Secret::new("Sandbox-Pa55!")).await.unwrap();
        let parsed = PasswordHash::new(ours.expose()).unwrap();
        assert!(h.argon2.verify_password(b"Sandbox-Pa55!", &parsed).is_ok());
        // Byte for byte what the crate itself writes for that hash.
        assert_eq!(parsed.to_string(), ours.expose());
        assert_eq!(parsed.salt.unwrap().len(), 22);
        assert_eq!(parsed.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
    }

    #[tokio::test]
    async fn an_unknown_user_costs_one_argon2_run_like_a_known_one() {
        let h = Arc::new(Hasher::new(&cheap(), 1).unwrap());
        let known = h.hash(Secret::new("pw")).await.unwrap();
        let _ = h.verify(Secret::new("x"), None).await.unwrap(); // builds the dummy hash
        let before = h.jobs_run();
        h.verify(Secret::new("x"), Some(known)).await.unwrap();
        let known_cost = h.jobs_run() - before;
        let before = h.jobs_run();
        h.verify(Secret::new("x"), None).await.unwrap();
        assert_eq!(h.jobs_run() - before, known_cost);
        assert_eq!(known_cost, 1);
    }

    #[tokio::test]
    async fn a_cheap_hash_runs_inline_and_an_expensive_one_still_needs_a_slot() {
        // The only slot is taken and no request may wait: whatever needs the pool
        // is refused, so a cheap hash that succeeds ran inline.
        let h = Arc::new(Hasher::new(&cheap(), 1).unwrap());
        assert!(h.inline);
        let _taken = Arc::clone(&h.slots).try_acquire_owned().unwrap();
        let hash = h.hash(Secret::new("123456")).await.unwrap();
        assert!(h
            .verify(Secret::new("123456"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!h.verify(Secret::new("654321"), Some(hash)).await.unwrap());
        assert!(!h.verify(Secret::new("123456"), None).await.unwrap());
        // A stored hash of real cost is verified on the pool even by a cheap hasher.
        let expensive = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                         tyvGyWPJvxd6mpKZVFKCR+9XzKL8/p5DyMb2jyILNmU";
        assert!(matches!(
            h.verify(Secret::new("x"), Some(Secret::new(expensive)))
                .await,
            Err(HashError::Overloaded)
        ));

        let mut s = cheap();
        s.memory_kib = 19456;
        s.iterations = 2;
        let h = Arc::new(Hasher::new(&s, 1).unwrap());
        assert!(!h.inline);
        let _taken = Arc::clone(&h.slots).try_acquire_owned().unwrap();
        assert!(matches!(
            h.hash(Secret::new("x")).await,
            Err(HashError::Overloaded)
        ));
        assert!(matches!(
            h.verify(Secret::new("x"), None).await,
            Err(HashError::Overloaded)
        ));
    }

    #[test]
    fn only_tiny_costs_run_inline() {
        let params = |m, t, p| Params::new(m, t, p, None).unwrap();
        assert!(runs_inline(&params(8, 1, 1)));
        assert!(runs_inline(&params(64, 1, 1)));
        assert!(runs_inline(&params(32, 2, 1)));
        assert!(!runs_inline(&params(65, 1, 1)));
        assert!(!runs_inline(&params(64, 2, 1)));
        assert!(!runs_inline(&params(16, 1, 2)));
        assert!(!runs_inline(&params(19456, 2, 1)));
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
