//! Whether the server can serve right now. `/__sandbox/health` answers 503 with
//! the reason while it cannot, so load balancers route by it
//! (docs/behaviour.md#health). Whoever learns of a condition sets it through a
//! [`ReadinessFlag`] for its [`Cause`]: the accept loop while it drains at
//! shutdown, and a state backend that can lose its connection (a database) while
//! it is unreachable. The file store cannot become unreachable, so it holds none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Why the server cannot serve; at most one reason per cause is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// SIGINT/SIGTERM: no new connections, in-flight requests finishing.
    Draining,
    /// The state backend cannot be reached: requests that need state would fail.
    StateBackend,
}

impl Cause {
    /// Slot in [`Readiness::reasons`]; also the order in which reasons are reported.
    fn index(self) -> usize {
        match self {
            Cause::Draining => 0,
            Cause::StateBackend => 1,
        }
    }
}

/// The server's readiness: ready unless some cause holds a reason. Cheap to read.
#[derive(Debug, Default)]
pub struct Readiness {
    /// The reason of each [`Cause`] that holds, by [`Cause::index`].
    reasons: Mutex<[Option<String>; 2]>,
    /// [`Cause::Draining`] holds: read on every response (to close connections).
    draining: AtomicBool,
}

impl Readiness {
    /// A ready server.
    pub fn new() -> Arc<Readiness> {
        Arc::new(Readiness::default())
    }

    /// The handle a component uses to report `cause`.
    pub fn flag(self: &Arc<Self>, cause: Cause) -> ReadinessFlag {
        ReadinessFlag {
            readiness: self.clone(),
            cause,
        }
    }

    /// `Ok` while the server can serve, else the reason (the first cause that holds).
    pub fn check(&self) -> Result<(), String> {
        let reasons = self.reasons.lock().unwrap_or_else(|p| p.into_inner());
        match reasons.iter().flatten().next() {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    /// True once the server has begun to drain at shutdown.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    fn set(&self, cause: Cause, reason: Option<String>) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|p| p.into_inner());
        if cause == Cause::Draining {
            self.draining.store(reason.is_some(), Ordering::Release);
        }
        reasons[cause.index()] = reason;
    }
}

/// One component's say in [`Readiness`]: it sets and clears its own cause only.
#[derive(Debug, Clone)]
pub struct ReadinessFlag {
    readiness: Arc<Readiness>,
    cause: Cause,
}

impl ReadinessFlag {
    /// The server cannot serve, because of `reason` (shown in the health body:
    /// no secret, such as a database password, belongs in it).
    pub fn down(&self, reason: impl Into<String>) {
        self.readiness.set(self.cause, Some(reason.into()));
    }

    /// The condition is over.
    pub fn up(&self) {
        self.readiness.set(self.cause, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_set_and_cleared_by_its_own_flag() {
        let r = Readiness::new();
        let backend = r.flag(Cause::StateBackend);
        let drain = r.flag(Cause::Draining);
        assert_eq!(r.check(), Ok(()));

        backend.down("state backend unreachable");
        assert_eq!(r.check(), Err("state backend unreachable".to_owned()));
        assert!(!r.is_draining());

        drain.down("shutting down");
        assert_eq!(
            r.check(),
            Err("shutting down".to_owned()),
            "draining is reported first"
        );
        assert!(r.is_draining());

        backend.up();
        assert_eq!(r.check(), Err("shutting down".to_owned()));
        drain.up();
        assert_eq!(r.check(), Ok(()));
        assert!(!r.is_draining());
    }
}
