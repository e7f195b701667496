//! Durable state: the in-memory `State` plus serialized commits that reach disk
//! before they become visible. No HTTP, no argon2.
//!
//! A commit clones the current state, applies the change to the copy, writes and
//! fsyncs the copy, and only then publishes it. A failed write therefore leaves
//! memory exactly as it was (SPEC §8: "a failed write changes nothing").

pub mod file;
pub mod state;

use std::sync::{Arc, Mutex, RwLock};

pub use file::{OpenError, StateFile};
pub use state::State;

/// What a change function decided.
pub enum Change<T> {
    /// The state copy was modified: make it durable, then publish it.
    Write(T),
    /// Nothing changed (an idempotent request): write nothing.
    Unchanged(T),
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E> {
    /// The change function refused (a domain error); nothing was written.
    #[error("change rejected")]
    Rejected(E),
    /// Writing the state failed; memory is unchanged.
    #[error("state write failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The state store.
#[derive(Debug)]
pub struct Store {
    /// The published state. Readers clone the `Arc` and let go at once, so a
    /// `std` lock is right: it is never held across an `.await`.
    current: RwLock<Arc<State>>,
    /// The file, `None` when ephemeral. Its mutex is the writer lock: commits run
    /// one at a time on a blocking thread, which keeps "no lost update" trivial.
    file: Mutex<Option<StateFile>>,
}

/// Unix time in seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    /// A store over `state`, persisted to `file` unless it is `None`.
    pub fn new(file: Option<StateFile>, state: State) -> Store {
        Store {
            current: RwLock::new(Arc::new(state)),
            file: Mutex::new(file),
        }
    }

    /// The current published state.
    pub fn snapshot(&self) -> Arc<State> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies `change` to a copy of the state; if it reports a change, writes the
    /// copy durably and publishes it. Returns only after the write is on disk.
    pub async fn commit<T, E, F>(self: &Arc<Self>, change: F) -> Result<T, CommitError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut State) -> Result<Change<T>, E> + Send + 'static,
    {
        let store = Arc::clone(self);
        // File I/O and fsync block: keep them off the async workers. The task is
        // not cancelled if the request is dropped, so a started commit completes.
        tokio::task::spawn_blocking(move || store.commit_blocking(change))
            .await
            .map_err(|e| CommitError::Io(std::io::Error::other(e)))?
    }

    fn commit_blocking<T, E, F>(&self, change: F) -> Result<T, CommitError<E>>
    where
        F: FnOnce(&mut State) -> Result<Change<T>, E>,
    {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = (*self.snapshot()).clone();
        let value = match change(&mut next).map_err(CommitError::Rejected)? {
            Change::Unchanged(value) => return Ok(value),
            Change::Write(value) => value,
        };
        next.prune_expired(now_secs());
        if let Some(file) = file.as_ref() {
            let bytes = serde_json::to_vec(&next).map_err(std::io::Error::other)?;
            file.write(&bytes)?;
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(value)
    }
}
