//! Durable state: the published in-memory `State` and the writer that makes
//! changes durable before they become visible. No HTTP, no argon2.
//!
//! Every change goes through [`Store::commit`]: a closure reads the state and
//! returns the ops it wants applied. One writer thread takes all waiting
//! changes as a batch, evaluates them in order against its private copy of the
//! state, makes the batch durable with one log append and one fsync (group
//! commit), then applies the ops to the published state and answers every
//! waiter. A failed write answers every change of the batch with the error and
//! leaves the published state untouched (docs/behaviour.md#state-and-durability).
//!
//! Where a batch goes is the [`Backend`]: the state file (or nothing, when
//! ephemeral), or a PostgreSQL database that several servers share
//! ([`postgres`], docs/behaviour.md#several-replicas). With a database the writer
//! first takes the database's head lock and catches its copy up with the batches
//! other servers committed, so changes are evaluated against the one shared state;
//! and [`Store::refresh`] brings the published state up to the database's head
//! before a request reads it.

pub mod fail;
pub mod file;
pub mod migrate;
pub mod ops;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod state;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use crate::clock::now_secs;
use crate::metrics::StateWrites;

pub use fail::{FailHook, WriteStep};
pub use file::{OpenError, StateFile};
pub use migrate::Upgrade;
pub use ops::Op;
pub use state::State;

/// Most changes made durable by one fsync.
const MAX_BATCH: usize = 4096;

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E> {
    /// The change function refused (a domain error); nothing was written.
    #[error("change rejected")]
    Rejected(E),
    /// Writing the state failed; nothing changed.
    #[error("state write failed: {0}")]
    Io(#[from] std::io::Error),
    /// The state backend (a database) cannot be reached; nothing changed.
    #[error("state backend unreachable: {0}")]
    Unreachable(String),
}

/// Why a batch was not made durable.
#[derive(Debug)]
pub enum WriteError {
    /// The file (or database) write failed.
    Io(std::io::Error),
    /// The database cannot be reached (no secret in the reason).
    Unreachable(String),
}

/// How a batch ended, as a waiting change learns it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Durable, or nothing to write.
    Written,
    /// The change was evaluated against the current state, but the batch failed.
    Failed(&'a WriteError),
    /// The backend could not be reached before the change could be evaluated
    /// against the current state: even a refusal is not to be trusted.
    NotEvaluated(&'a str),
}

/// A change being prepared: read the state, then push ops.
pub struct Tx<'a> {
    /// The state as of this change (earlier changes of the batch included).
    state: &'a State,
    /// Ops to apply if the change succeeds.
    ops: Vec<Op>,
}

impl Tx<'_> {
    /// The state this change sees.
    pub fn state(&self) -> &State {
        self.state
    }

    /// Adds an op. Ops take effect only if the change function returns `Ok`.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }
}

/// Tells a waiting `commit` how its batch's write went.
type Answer = Box<dyn FnOnce(Outcome<'_>) + Send>;

/// What a change produced: its ops and how to answer its waiter.
struct Prepared {
    ops: Vec<Op>,
    answer: Answer,
}

type Job = Box<dyn FnOnce(&State) -> Prepared + Send>;

/// What the writer thread receives.
enum Msg {
    /// A change.
    Job(Job),
    /// A write-failure hook to install (tests only).
    FailHook(FailHook),
}

/// How often expired tokens are swept out (with the next change).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The state store.
#[derive(Debug)]
pub struct Store {
    /// The published state. A `std` lock: readers hold it for a lookup and the
    /// writer for applying a batch's ops; never across an `.await`.
    live: Arc<RwLock<State>>,
    /// Queue to the writer thread; `None` once closed.
    jobs: Mutex<Option<mpsc::Sender<Msg>>>,
    /// The writer thread, joined on drop so every queued change is finished.
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Counters shared with the writer and the metrics registry.
    stats: Arc<StateWrites>,
    /// The shared database, when the backend is PostgreSQL.
    database: Option<Arc<Database>>,
}

#[cfg(feature = "postgres")]
use postgres::Database;

/// This build has no PostgreSQL backend (feature `postgres` off): no value exists.
#[cfg(not(feature = "postgres"))]
#[derive(Debug)]
pub enum Database {}

#[cfg(not(feature = "postgres"))]
impl Database {
    async fn refresh(&self, _live: &RwLock<State>) -> Result<(), String> {
        match *self {}
    }
    async fn counter_status(
        &self,
        _scope: &str,
        _key: &str,
        _window: std::time::Duration,
    ) -> Result<Option<(u32, std::time::Duration)>, String> {
        match *self {}
    }
    async fn window_take(
        &self,
        _scope: &str,
        _key: &str,
        _max: u32,
        _window: std::time::Duration,
    ) -> Result<bool, String> {
        match *self {}
    }
    async fn window_give_back(&self, _scope: &str, _key: &str) -> Result<(), String> {
        match *self {}
    }
    async fn window_used(
        &self,
        _scope: &str,
        _key: &str,
        _window: std::time::Duration,
    ) -> Result<u32, String> {
        match *self {}
    }
    async fn window_clear(&self, _scope: &str) -> Result<(), String> {
        match *self {}
    }
    async fn counter_clear(&self, _scope: &str) -> Result<(), String> {
        match *self {}
    }
    async fn counter_keys(
        &self,
        _scope: &str,
        _window: std::time::Duration,
    ) -> Result<u64, String> {
        match *self {}
    }
    async fn counter_take(
        &self,
        _scope: &str,
        _key: &str,
        _max: u32,
        _window: std::time::Duration,
    ) -> Result<bool, String> {
        match *self {}
    }
    async fn counter_give_back(&self, _scope: &str, _key: &str) -> Result<(), String> {
        match *self {}
    }
}

/// Where the writer makes batches durable.
// One per store, owned by the writer thread: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    /// The state file; `None` when ephemeral.
    File(Option<StateFile>),
    /// A PostgreSQL database shared with other servers.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PgWriter>),
}

impl Store {
    /// A store over `state`, persisted to `file` unless it is `None` (ephemeral).
    /// Starts the writer thread, which ends when the store is dropped.
    pub fn new(file: Option<StateFile>, mut state: State) -> Store {
        // Expired tokens are dropped from memory at start; the next snapshot drops them on disk.
        for digest in state.expired_tokens(now_secs()) {
            state.tokens.remove(&digest);
        }
        for digest in state.stale_cloud_tokens(now_secs()) {
            state.cloud_tokens.remove(&digest);
        }
        Store::start(Backend::File(file), state)
    }

    /// A store over the shared `database`, starting from `state` (what it holds now).
    /// Also starts the database's background probe (readiness and freshness while idle).
    #[cfg(feature = "postgres")]
    pub fn shared(database: Arc<postgres::Database>, state: State) -> Store {
        // Expired tokens stay until a change sweeps them: another server may be
        // reading them, and every server ignores expired ones anyway.
        let mut store = Store::start(Backend::Postgres(Box::new(database.writer())), state);
        database.spawn_probe(Arc::downgrade(&store.live));
        store.database = Some(database);
        store
    }

    /// True when other servers share this state (a database backend): requests
    /// must then [`Store::refresh`] before they read.
    pub fn is_shared(&self) -> bool {
        self.database.is_some()
    }

    /// Brings the published state up to every batch committed (by any server)
    /// before this call; a no-op for the file backend. Err: the backend is unreachable.
    pub async fn refresh(&self) -> Result<(), String> {
        match &self.database {
            Some(db) => db.refresh(&self.live).await,
            None => Ok(()),
        }
    }

    /// The counters shared by every server (a database backend), for the limiters.
    pub fn shared_counters(&self) -> Option<SharedCounters> {
        self.database.clone().map(|db| SharedCounters { db })
    }

    fn start(backend: Backend, state: State) -> Store {
        let live = Arc::new(RwLock::new(state.clone()));
        let stats = Arc::new(StateWrites::default());
        let (jobs, queue) = mpsc::channel::<Msg>();
        let writer = Writer {
            live: Arc::clone(&live),
            shadow: state,
            backend,
            last_prune: std::time::Instant::now(),
            stats: Arc::clone(&stats),
        };
        let handle = std::thread::Builder::new()
            .name("wa-twostep-writer".into())
            .spawn(move || writer.run(queue))
            .expect("spawn the state writer thread");
        Store {
            live,
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(Some(handle)),
            stats,
            database: None,
        }
    }

    /// The writer's counters (shared with the metrics registry).
    pub fn stats(&self) -> &Arc<StateWrites> {
        &self.stats
    }

    fn send(&self, msg: Msg) -> Result<(), std::io::Error> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        match jobs.as_ref() {
            Some(sender) => sender
                .send(msg)
                .map_err(|_| std::io::Error::other("the state writer has stopped")),
            None => Err(std::io::Error::other("the store is closed")),
        }
    }

    /// Stops taking changes, lets the writer finish every queued one, and waits for
    /// it (which also releases the state file's lock). Called on drop.
    pub fn close(&self) {
        drop(self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(handle) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
    }

    /// Reads the published state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.live.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs `change` against the state in commit order. If it returns `Ok` with ops,
    /// they are made durable, then published, and only then is the value returned.
    /// A change function must decide before pushing: ops of an `Err` are dropped.
    pub async fn commit<T, E, F>(&self, change: F) -> Result<T, CommitError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, CommitError<E>>>();
        let job: Job = Box::new(move |state: &State| {
            let mut t = Tx {
                state,
                ops: Vec::new(),
            };
            match change(&mut t) {
                Ok(value) => Prepared {
                    ops: t.ops,
                    answer: Box::new(move |outcome| {
                        let _ = tx.send(match outcome {
                            Outcome::Written => Ok(value),
                            Outcome::Failed(WriteError::Io(e)) => Err(CommitError::Io(
                                std::io::Error::new(e.kind(), e.to_string()),
                            )),
                            Outcome::Failed(WriteError::Unreachable(why)) => {
                                Err(CommitError::Unreachable(why.clone()))
                            }
                            Outcome::NotEvaluated(why) => {
                                Err(CommitError::Unreachable(why.to_owned()))
                            }
                        });
                    }),
                },
                Err(e) => Prepared {
                    ops: Vec::new(),
                    answer: Box::new(move |outcome| {
                        let _ = tx.send(match outcome {
                            Outcome::NotEvaluated(why) => {
                                Err(CommitError::Unreachable(why.to_owned()))
                            }
                            _ => Err(CommitError::Rejected(e)),
                        });
                    }),
                },
            }
        });
        // From here the change may be applied whatever happens to this request:
        // its timeout must wait for the verdict rather than answer 408.
        crate::deadline::mark_queued();
        self.send(Msg::Job(job))?;
        rx.await
            .map_err(|_| CommitError::Io(std::io::Error::other("the state writer has stopped")))?
    }

    /// Installs a write-failure hook on the writer (tests only); it applies from the
    /// next batch on.
    pub fn set_fail_hook(&self, hook: FailHook) {
        let _ = self.send(Msg::FailHook(hook));
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread's state.
struct Writer {
    /// Shared with readers.
    live: Arc<RwLock<State>>,
    /// The writer's own copy: the published state plus the batch being written.
    shadow: State,
    /// Where batches go.
    backend: Backend,
    /// When expired tokens were last swept.
    last_prune: std::time::Instant,
    /// Counters.
    stats: Arc<StateWrites>,
}

impl Writer {
    fn run(mut self, queue: mpsc::Receiver<Msg>) {
        let mut batch = Vec::new();
        while let Ok(first) = queue.recv() {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Job(job) => batch.push(job),
                    Msg::FailHook(hook) => {
                        if let Backend::File(Some(file)) = &mut self.backend {
                            file.set_fail_hook(hook);
                        }
                    }
                }
                if batch.len() < MAX_BATCH {
                    next = queue.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.write_batch(std::mem::take(&mut batch));
            }
        }
    }

    fn write_batch(&mut self, batch: Vec<Job>) {
        // With a shared database: lock its head and catch up first, so every change
        // of the batch sees what other servers committed.
        let caught_up = match self.begin() {
            Ok(caught_up) => caught_up,
            Err(why) => {
                tracing::error!(reason = %why, changes = batch.len(), "state backend unreachable; nothing changed");
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                for job in batch {
                    let shadow = &self.shadow;
                    if let Ok(prepared) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(shadow)))
                    {
                        (prepared.answer)(Outcome::NotEvaluated(&why));
                    }
                }
                return;
            }
        };
        let mut ops = Vec::new();
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            // A change function that panics must not take the writer (and with it
            // every later change) down: its waiter sees the store error, the rest
            // of the batch goes on.
            let shadow = &self.shadow;
            let prepared =
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(shadow))) {
                    Ok(prepared) => prepared,
                    Err(_) => {
                        tracing::error!("a state change panicked; it was dropped");
                        continue;
                    }
                };
            for op in &prepared.ops {
                self.shadow.apply(op);
            }
            ops.extend(prepared.ops);
            answers.push(prepared.answer);
        }
        if !ops.is_empty() && self.last_prune.elapsed() >= PRUNE_EVERY {
            // Sweep expired tokens along with a real change, so an idle server writes nothing.
            self.last_prune = std::time::Instant::now();
            let now = now_secs();
            let expired = self.shadow.expired_tokens(now).into_iter();
            let expired = expired.map(|digest| Op::DeleteToken { digest });
            let stale = self.shadow.stale_cloud_tokens(now).into_iter();
            let stale = stale.map(|digest| Op::DeleteCloudToken { digest });
            let links = self.shadow.stale_reset_links(now).into_iter();
            let links = links.map(|digest| Op::DeleteResetLink { digest });
            for op in expired.chain(stale).chain(links).collect::<Vec<_>>() {
                self.shadow.apply(&op);
                ops.push(op);
            }
        }
        let result = if ops.is_empty() {
            self.finish_empty();
            Ok(())
        } else {
            let started = std::time::Instant::now();
            let result = self.persist(&ops);
            let micros = started.elapsed().as_micros() as u64;
            self.stats.write_micros.fetch_add(micros, Ordering::Relaxed);
            let counter = match result {
                Ok(()) => &self.stats.batches,
                Err(_) => &self.stats.failures,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            result
        };
        match &result {
            Ok(()) => {
                let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
                // Batches of other servers first (a request may already have
                // published some of them), then this one's.
                for (seq, batch) in &caught_up {
                    if *seq > live.seq {
                        for op in batch {
                            live.apply(op);
                        }
                        live.seq = *seq;
                    }
                }
                if !ops.is_empty() && live.seq < self.shadow.seq {
                    for op in &ops {
                        live.apply(op);
                    }
                    live.seq = self.shadow.seq;
                }
            }
            Err(e) => {
                match e {
                    WriteError::Io(e) => {
                        tracing::error!(error = %e, changes = answers.len(), "state write failed; nothing changed")
                    }
                    WriteError::Unreachable(why) => {
                        tracing::error!(reason = %why, changes = answers.len(), "state backend unreachable; nothing changed")
                    }
                }
                self.shadow = self.live.read().unwrap_or_else(|e| e.into_inner()).clone();
            }
        }
        if result.is_ok() {
            let n = answers.len() as u64;
            self.stats.changes.fetch_add(n, Ordering::Relaxed);
        }
        for answer in answers {
            answer(match &result {
                Ok(()) => Outcome::Written,
                Err(e) => Outcome::Failed(e),
            });
        }
    }

    /// Before a batch: with a database, takes its head lock and catches the shadow
    /// up; returns the batches it applied (sequence number, ops), to publish too.
    fn begin(&mut self) -> Result<Vec<(u64, Vec<Op>)>, String> {
        match &mut self.backend {
            Backend::File(_) => Ok(Vec::new()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.begin(&mut self.shadow),
        }
    }

    /// A batch with nothing to write: releases the database's head lock.
    fn finish_empty(&mut self) {
        match &mut self.backend {
            Backend::File(_) => {}
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.rollback(),
        }
    }

    fn persist(&mut self, ops: &[Op]) -> Result<(), WriteError> {
        // Counted even when ephemeral: publishing compares it with the live state's.
        self.shadow.seq += 1;
        match &mut self.backend {
            Backend::File(None) => Ok(()),
            Backend::File(Some(file)) => {
                let live = &self.live;
                let previous = || live.read().unwrap_or_else(|e| e.into_inner()).clone();
                file.persist(&self.shadow, ops, previous)
                    .map_err(WriteError::Io)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.commit(&self.shadow, ops),
        }
    }
}

/// Counters every server shares (the login limiter, the PIN-guess budget), kept
/// in the database. Keys are `(scope, key)`; each counts events in a fixed window
/// that opens at its first event, by the database's clock.
#[derive(Debug, Clone)]
pub struct SharedCounters {
    db: Arc<Database>,
}

impl SharedCounters {
    /// The events `key` of `scope` counted in its open window and how long ago
    /// that window opened; `None` when no window is open.
    pub async fn status(
        &self,
        scope: &str,
        key: &str,
        window: std::time::Duration,
    ) -> Result<Option<(u32, std::time::Duration)>, String> {
        self.db.counter_status(scope, key, window).await
    }

    /// Forgets every key of `scope`.
    pub async fn clear(&self, scope: &str) -> Result<(), String> {
        self.db.counter_clear(scope).await
    }

    /// Keys of `scope` with an open window.
    pub async fn keys(&self, scope: &str, window: std::time::Duration) -> Result<u64, String> {
        self.db.counter_keys(scope, window).await
    }

    /// Counts one event for `key` of `scope` unless `max` are in its open window,
    /// in one statement; false when blocked.
    pub async fn take(
        &self,
        scope: &str,
        key: &str,
        max: u32,
        window: std::time::Duration,
    ) -> Result<bool, String> {
        self.db.counter_take(scope, key, max, window).await
    }

    /// Takes back one event of `key` of `scope`; at zero the key is forgotten.
    pub async fn give_back(&self, scope: &str, key: &str) -> Result<(), String> {
        self.db.counter_give_back(scope, key).await
    }

    /// Moving window: counts one event unless `max` fall in the last `window`.
    pub async fn window_take(
        &self,
        scope: &str,
        key: &str,
        max: u32,
        window: std::time::Duration,
    ) -> Result<bool, String> {
        self.db.window_take(scope, key, max, window).await
    }

    /// Moving window: takes back `key`'s latest event.
    pub async fn window_give_back(&self, scope: &str, key: &str) -> Result<(), String> {
        self.db.window_give_back(scope, key).await
    }

    /// Moving window: `key`'s events in the last `window`.
    pub async fn window_used(
        &self,
        scope: &str,
        key: &str,
        window: std::time::Duration,
    ) -> Result<u32, String> {
        self.db.window_used(scope, key, window).await
    }

    /// Moving window: forgets every event of `scope`.
    pub async fn window_clear(&self, scope: &str) -> Result<(), String> {
        self.db.window_clear(scope).await
    }
}
