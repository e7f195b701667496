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

pub mod fail;
pub mod file;
pub mod migrate;
pub mod ops;
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
type Answer = Box<dyn FnOnce(Result<(), &std::io::Error>) + Send>;

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
        let live = Arc::new(RwLock::new(state.clone()));
        let stats = Arc::new(StateWrites::default());
        let (jobs, queue) = mpsc::channel::<Msg>();
        let writer = Writer {
            live: Arc::clone(&live),
            shadow: state,
            file,
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
                    answer: Box::new(move |written| {
                        let _ = tx.send(match written {
                            Ok(()) => Ok(value),
                            Err(e) => Err(CommitError::Io(std::io::Error::new(
                                e.kind(),
                                e.to_string(),
                            ))),
                        });
                    }),
                },
                Err(e) => Prepared {
                    ops: Vec::new(),
                    answer: Box::new(move |_| {
                        let _ = tx.send(Err(CommitError::Rejected(e)));
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
    /// `None` when ephemeral.
    file: Option<StateFile>,
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
                        if let Some(file) = self.file.as_mut() {
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
            for op in expired.chain(stale).collect::<Vec<_>>() {
                self.shadow.apply(&op);
                ops.push(op);
            }
        }
        let result = if ops.is_empty() {
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
            Ok(()) if !ops.is_empty() => {
                let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
                for op in &ops {
                    live.apply(op);
                }
                live.seq = self.shadow.seq;
            }
            Ok(()) => {}
            Err(e) => {
                tracing::error!(error = %e, changes = answers.len(), "state write failed; nothing changed");
                self.shadow = self.live.read().unwrap_or_else(|e| e.into_inner()).clone();
            }
        }
        if result.is_ok() {
            let n = answers.len() as u64;
            self.stats.changes.fetch_add(n, Ordering::Relaxed);
        }
        for answer in answers {
            answer(result.as_ref().map(|_| ()));
        }
    }

    fn persist(&mut self, ops: &[Op]) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        self.shadow.seq += 1;
        let live = &self.live;
        let previous = || live.read().unwrap_or_else(|e| e.into_inner()).clone();
        file.persist(&self.shadow, ops, previous)
    }
}

#[cfg(test)]
mod tests;
