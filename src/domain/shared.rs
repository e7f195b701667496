//! Several servers, one state (docs/behaviour.md#several-replicas): the handle the
//! HTTP edge uses, once per request, to make sure this server has applied every
//! change any server acknowledged before the request arrived. With the file
//! backend nothing is shared and the check is skipped without a call.
//!
//! Concurrent requests share head checks: a request is satisfied by any check that
//! *started* after it arrived, so while one check is on its way to the database,
//! the requests arriving meanwhile wait for the next one, which starts as soon as
//! the current one ends and serves them all. One database query per request had
//! capped a shared server at what one connection answers in sequence.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::Unavailable;
use crate::store::Store;

/// Freshness of the state this server reads.
#[derive(Debug, Clone)]
pub struct SharedState {
    /// Durable state.
    store: Arc<Store>,
    /// Fixed at start: whether other servers share the state.
    shared: bool,
    /// The head checks in flight and done.
    checks: Arc<Checks>,
}

impl SharedState {
    /// The handle over `store`.
    pub fn new(store: Arc<Store>) -> SharedState {
        let shared = store.is_shared();
        SharedState {
            store,
            shared,
            checks: Arc::new(Checks::default()),
        }
    }

    /// True when other servers may change the state (a database backend).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Applies every change committed by any server before this call. Err (503 /
    /// 1016 at the edge): the database cannot be reached.
    pub async fn catch_up(&self) -> Result<(), Unavailable> {
        if !self.shared {
            return Ok(());
        }
        // Boxed: the database client's futures are large, and inline they would
        // make every request's future (file backend included) that large to move.
        let store = &self.store;
        Box::pin(self.checks.fresh(|| store.refresh()))
            .await
            .map_err(Unavailable::StateUnreachable)
    }
}

/// Checks started and finished, numbered in the order they start.
#[derive(Debug)]
struct Checks {
    started: Mutex<Started>,
    /// The last finished check's number and outcome.
    finished: watch::Sender<(u64, Result<(), String>)>,
}

#[derive(Debug, Default)]
struct Started {
    /// Number of the last check started.
    last: u64,
    /// Whether that check is still on its way.
    running: bool,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            started: Mutex::new(Started::default()),
            finished: watch::Sender::new((0, Ok(()))),
        }
    }
}

impl Checks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Started> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The outcome of a check that started after this call: a new one run here,
    /// or the next one another caller runs.
    async fn fresh<F, Fut>(&self, check: F) -> Result<(), String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let mut finished = self.finished.subscribe();
        // The running check, if any, began before this call: the next one will do.
        let needed = match self.claim() {
            Ok(number) => return self.run(number, check).await,
            Err(running) => running + 1,
        };
        loop {
            let seen = finished
                .wait_for(|(number, _)| *number >= needed || !self.lock().running)
                .await
                .map(|done| done.clone());
            if let Ok((number, outcome)) = seen {
                if number >= needed {
                    return outcome;
                }
            }
            // Nobody runs the check this call needs (the last one ended, or its
            // caller went away): run it here, unless another waiter just did.
            if let Ok(number) = self.claim() {
                return self.run(number, check).await;
            }
        }
    }

    /// Starts a check when none is running and returns its number; otherwise
    /// the number of the running one, as the error.
    fn claim(&self) -> Result<u64, u64> {
        let mut started = self.lock();
        if started.running {
            return Err(started.last);
        }
        started.running = true;
        started.last += 1;
        Ok(started.last)
    }

    /// Runs check `number` and publishes its outcome; a caller that goes away
    /// mid-check lets a waiting one start the next.
    async fn run<F, Fut>(&self, number: u64, check: F) -> Result<(), String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        struct Running<'a>(&'a Checks, bool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.lock().running = false;
                    self.0.finished.send_modify(|_| {});
                }
            }
        }
        let mut running = Running(self, false);
        let outcome = check().await;
        running.1 = true;
        self.lock().running = false;
        let _previous = self.finished.send_replace((number, outcome.clone()));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A check that counts its runs, records the calls it saw arrive, and takes 20 ms.
    async fn check(runs: &AtomicU64) -> Result<(), String> {
        runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }

    #[tokio::test]
    async fn callers_arriving_during_a_check_share_the_next_one() {
        let checks = Arc::new(Checks::default());
        let runs = Arc::new(AtomicU64::new(0));
        let first = {
            let (checks, runs) = (checks.clone(), runs.clone());
            tokio::spawn(async move { checks.fresh(|| check(&runs)).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let waiters: Vec<_> = (0..50)
            .map(|_| {
                let (checks, runs) = (checks.clone(), runs.clone());
                tokio::spawn(async move { checks.fresh(|| check(&runs)).await })
            })
            .collect();
        assert_eq!(first.await.unwrap(), Ok(()));
        for w in waiters {
            assert_eq!(w.await.unwrap(), Ok(()));
        }
        // The first check, then one more for the 50 that arrived while it ran.
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_caller_never_takes_the_outcome_of_a_check_that_started_before_it() {
        let checks = Arc::new(Checks::default());
        // Each check reports when it started; a caller must get a later start
        // than its own arrival.
        let clock = Arc::new(AtomicU64::new(0));
        let run = |clock: Arc<AtomicU64>| async move {
            let started = clock.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(format!("{started}"))
        };
        let mut calls = Vec::new();
        for _ in 0..20 {
            let arrived = clock.fetch_add(1, Ordering::SeqCst);
            let (checks, clock2) = (checks.clone(), clock.clone());
            calls.push((
                arrived,
                tokio::spawn(async move { checks.fresh(|| run(clock2)).await }),
            ));
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        for (arrived, call) in calls {
            let started: u64 = call.await.unwrap().unwrap_err().parse().unwrap();
            assert!(
                started > arrived,
                "arrived at {arrived}, check started at {started}"
            );
        }
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_mid_check_does_not_strand_the_others() {
        let checks = Arc::new(Checks::default());
        let runs = Arc::new(AtomicU64::new(0));
        let abandoned = {
            let (checks, runs) = (checks.clone(), runs.clone());
            tokio::spawn(async move { checks.fresh(|| check(&runs)).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let waiter = {
            let (checks, runs) = (checks.clone(), runs.clone());
            tokio::spawn(async move { checks.fresh(|| check(&runs)).await })
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        abandoned.abort();
        let answered = tokio::time::timeout(Duration::from_secs(5), waiter).await;
        assert_eq!(answered.expect("the waiter was stranded").unwrap(), Ok(()));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
