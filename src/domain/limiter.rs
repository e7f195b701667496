//! Counting limits: the failed-login limit (docs/behaviour.md#failed-login-limit,
//! keyed by client address), the PIN-guess budget per phone number
//! (docs/behaviour.md#registration) and the Cloud API's register/deregister budget
//! ([`SlidingLimit`], a moving window: docs/cloud.md#registration). [`Budget`] is
//! what the services use for the fixed-window ones: in memory ([`Limiter`]) with
//! the file backend, in the database when several servers share the state, so
//! every server counts into the same budget (docs/behaviour.md#several-replicas).
//! Memory is bounded either way.
//!
//! Each key of a [`Limiter`] gets a fixed window that opens at its first counted
//! event and lasts `window`; once `max` events fall in the window, the key is
//! blocked until it closes. This mirrors the real server's per-IP counter of wrong
//! logins per hour (docs/on-premises.md#login-and-tokens, `RL_MAX_WRONG_LOGINS` =
//! 30 per 3600 s).

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use super::Unavailable;
use crate::store::{SharedCounters, Store};

/// A bounded per-key event counter in memory (keyed by client address unless said).
#[derive(Debug)]
pub struct Limiter<K: Hash + Eq = IpAddr> {
    /// Events allowed per window.
    max: u32,
    /// Window length.
    window: Duration,
    /// Window start and count per address, least recently counted first: when
    /// full, forgetting one address is O(1). (Scanning for the stalest entry under
    /// the lock cut failed-login throughput tenfold once the map was full.) A `std`
    /// mutex: held for one map operation only, never across an `.await`.
    entries: Mutex<LruCache<K, (Instant, u32)>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter allowing `max` events per `window` per key, remembering at most
    /// `capacity` keys.
    pub fn new(max: u32, window: Duration, capacity: usize) -> Limiter<K> {
        Limiter {
            max,
            window,
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// True when `addr` has used up its events in the current window. Asking
    /// counts as use: a blocked address that keeps trying stays remembered (and
    /// blocked) while addresses that went quiet are forgotten first.
    pub fn is_blocked(&self, addr: K) -> bool {
        self.retry_after(&addr).is_some()
    }

    /// How long `key` stays blocked; `None` when it is not blocked.
    pub fn retry_after(&self, key: &K) -> Option<Duration> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (start, n) = entries.get(key)?;
        let elapsed = now.duration_since(*start);
        (elapsed < self.window && *n >= self.max).then(|| self.window - elapsed)
    }

    /// Events counted for `key` in its current window (0 once it has closed).
    pub fn used(&self, key: &K) -> u32 {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.peek(key) {
            Some((start, n)) if now.duration_since(*start) < self.window => *n,
            _ => 0,
        }
    }

    /// Counts one event for `addr`.
    pub fn record(&self, addr: K) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // When full, the least recently counted address is forgotten: an attacker
        // who cycles addresses gains nothing over simply using new addresses.
        let entry = entries.get_or_insert_mut(addr, || (now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Counts one event for `key` unless it is blocked, in one step (so parallel
    /// attempts cannot all pass a check made before any of them counted); `Err`
    /// with how long it stays blocked.
    pub fn take(&self, key: K) -> Result<(), Duration> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_or_insert_mut(key, || (now, 0));
        let elapsed = now.duration_since(entry.0);
        if elapsed >= self.window {
            *entry = (now, 0);
        } else if entry.1 >= self.max {
            return Err(self.window - elapsed);
        }
        entry.1 = entry.1.saturating_add(1);
        Ok(())
    }

    /// Takes back one event of `key` (the attempt it counted turned out not to
    /// count: a right password or PIN). At zero the key is forgotten, so its next
    /// counted event opens a new window.
    pub fn give_back(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.peek_mut(key) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                entries.pop(key);
            }
        }
    }

    /// Addresses currently remembered.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every address.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// An event budget per key: `max` events per `window`, then blocked until the
/// window closes. One type for both homes of the counts, so a service neither
/// knows nor cares which backend the state has.
#[derive(Debug)]
pub struct Budget<K: Hash + Eq = IpAddr> {
    /// Events allowed per window.
    max: u32,
    /// Window length.
    window: Duration,
    /// Where the counts live.
    home: Home<K>,
}

/// Where a [`Budget`] counts.
#[derive(Debug)]
enum Home<K: Hash + Eq> {
    /// This server's memory (the file backend: one server per state).
    Local(Limiter<K>),
    /// The shared database, under `scope`.
    Shared {
        /// The database's counters.
        counters: SharedCounters,
        /// Names this budget's keys apart from other budgets'.
        scope: &'static str,
    },
}

impl<K: Hash + Eq + Clone + Display> Budget<K> {
    /// A budget of `max` events per `window` per key, shared when `store`'s state
    /// is (keys under `scope`), else in memory for at most `capacity` keys.
    pub fn new(
        store: &Store,
        scope: &'static str,
        max: u32,
        window: Duration,
        capacity: usize,
    ) -> Budget<K> {
        let home = match store.shared_counters() {
            Some(counters) => Home::Shared { counters, scope },
            None => Home::Local(Limiter::new(max, window, capacity)),
        };
        Budget { max, window, home }
    }

    /// True when `key` has used up its budget in the current window.
    pub async fn is_blocked(&self, key: &K) -> Result<bool, Unavailable> {
        Ok(self.retry_after(key).await?.is_some())
    }

    /// How long `key` stays blocked; `None` when it is not blocked. Asking counts
    /// as use of an in-memory key (see [`Limiter::is_blocked`]).
    pub async fn retry_after(&self, key: &K) -> Result<Option<Duration>, Unavailable> {
        match &self.home {
            Home::Local(l) => Ok(l.retry_after(key)),
            Home::Shared { counters, scope } => {
                let status = counters
                    .status(scope, &key.to_string(), self.window)
                    .await
                    .map_err(Unavailable::StateUnreachable)?;
                Ok(status.and_then(|(n, elapsed)| {
                    (n >= self.max).then(|| self.window.saturating_sub(elapsed))
                }))
            }
        }
    }

    /// Events counted for `key` in its current window (0 once it has closed).
    pub async fn used(&self, key: &K) -> Result<u32, Unavailable> {
        match &self.home {
            Home::Local(l) => Ok(l.used(key)),
            Home::Shared { counters, scope } => Ok(counters
                .status(scope, &key.to_string(), self.window)
                .await
                .map_err(Unavailable::StateUnreachable)?
                .map_or(0, |(n, _)| n)),
        }
    }

    /// Counts one attempt for `key` unless it is blocked, atomically (in memory,
    /// or in one statement on the database); `Ok(Err(retry_after))` when blocked.
    /// An attempt that turns out not to count is handed back with [`Budget::give_back`].
    pub async fn take(&self, key: &K) -> Result<Result<(), Duration>, Unavailable> {
        match &self.home {
            Home::Local(l) => Ok(l.take(key.clone())),
            Home::Shared { counters, scope } => {
                let key = key.to_string();
                let taken = counters
                    .take(scope, &key, self.max, self.window)
                    .await
                    .map_err(Unavailable::StateUnreachable)?;
                if taken {
                    return Ok(Ok(()));
                }
                let status = counters
                    .status(scope, &key, self.window)
                    .await
                    .map_err(Unavailable::StateUnreachable)?;
                let elapsed = status.map_or(Duration::ZERO, |(_, elapsed)| elapsed);
                Ok(Err(self
                    .window
                    .saturating_sub(elapsed)
                    .max(Duration::from_secs(1))))
            }
        }
    }

    /// Takes back one attempt [`Budget::take`] counted.
    pub async fn give_back(&self, key: &K) -> Result<(), Unavailable> {
        match &self.home {
            Home::Local(l) => {
                l.give_back(key);
                Ok(())
            }
            Home::Shared { counters, scope } => counters
                .give_back(scope, &key.to_string())
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }

    /// Forgets every key (control-plane reset).
    pub async fn clear(&self) -> Result<(), Unavailable> {
        match &self.home {
            Home::Local(l) => {
                l.clear();
                Ok(())
            }
            Home::Shared { counters, scope } => counters
                .clear(scope)
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }

    /// Keys with an open window: those this server remembers, or, when the budget
    /// is shared, those in the database (every server's).
    pub async fn keys(&self) -> Result<usize, Unavailable> {
        match &self.home {
            Home::Local(l) => Ok(l.len()),
            Home::Shared { counters, scope } => counters
                .keys(scope, self.window)
                .await
                .map(|n| n as usize)
                .map_err(Unavailable::StateUnreachable),
        }
    }
}

/// Events per key in a moving window: at most `max` in any `window`, as the
/// Cloud API's register/deregister budget counts them (docs/cloud.md#registration).
/// Keys are phone-number IDs, a small set the state holds, so memory is bounded by
/// `max` instants per number.
#[derive(Debug)]
pub struct SlidingLimit {
    /// Events allowed per window.
    max: u32,
    /// Window length.
    window: Duration,
    /// The instants of each key's events in the window, oldest first. A `std`
    /// mutex: held for one map operation only, never across an `.await`.
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SlidingLimit {
    /// A budget of `max` events in any `window`.
    pub fn new(max: u32, window: Duration) -> SlidingLimit {
        SlidingLimit {
            max,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// The limit.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Counts one event for `key` unless its budget is used up; false when it is.
    pub fn try_take(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let times = events.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.max as usize {
            return false;
        }
        times.push_back(now);
        true
    }

    /// Takes back the last event of `key` (the call it counted did not happen).
    pub fn give_back(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = events.get_mut(key) {
            times.pop_back();
        }
    }

    /// Events of `key` in the window now.
    pub fn used(&self, key: &str) -> u32 {
        let now = Instant::now();
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.get(key).map_or(0, |times| {
            let live = times
                .iter()
                .filter(|t| now.duration_since(**t) < self.window);
            live.count() as u32
        })
    }

    /// Forgets every event.
    pub fn clear(&self) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// A moving-window budget per key ([`SlidingLimit`]'s rule), in this server's
/// memory with the file backend and in the database when the state is shared, so
/// every server takes from the same budget (docs/behaviour.md#several-replicas).
#[derive(Debug)]
pub struct SlidingBudget {
    /// Events allowed per window.
    max: u32,
    /// Window length.
    window: Duration,
    /// Where the events are counted.
    home: SlidingHome,
}

/// Where a [`SlidingBudget`] counts.
#[derive(Debug)]
enum SlidingHome {
    /// This server's memory.
    Local(SlidingLimit),
    /// The shared database, under `scope`.
    Shared {
        /// The database's counters.
        counters: SharedCounters,
        /// Names this budget's keys apart from other budgets'.
        scope: &'static str,
    },
}

impl SlidingBudget {
    /// At most `max` events per key in any `window`; shared when `store`'s state is.
    pub fn new(store: &Store, scope: &'static str, max: u32, window: Duration) -> SlidingBudget {
        let home = match store.shared_counters() {
            Some(counters) => SlidingHome::Shared { counters, scope },
            None => SlidingHome::Local(SlidingLimit::new(max, window)),
        };
        SlidingBudget { max, window, home }
    }

    /// The limit.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Counts one event for `key` unless its budget is used up; false when it is.
    pub async fn try_take(&self, key: &str) -> Result<bool, Unavailable> {
        match &self.home {
            SlidingHome::Local(l) => Ok(l.try_take(key)),
            SlidingHome::Shared { counters, scope } => counters
                .window_take(scope, key, self.max, self.window)
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }

    /// Takes back the last event of `key` (the call it counted did not happen).
    pub async fn give_back(&self, key: &str) -> Result<(), Unavailable> {
        match &self.home {
            SlidingHome::Local(l) => {
                l.give_back(key);
                Ok(())
            }
            SlidingHome::Shared { counters, scope } => counters
                .window_give_back(scope, key)
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }

    /// Events of `key` in the window now.
    pub async fn used(&self, key: &str) -> Result<u32, Unavailable> {
        match &self.home {
            SlidingHome::Local(l) => Ok(l.used(key)),
            SlidingHome::Shared { counters, scope } => counters
                .window_used(scope, key, self.window)
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }

    /// Forgets every event (control-plane reset).
    pub async fn clear(&self) -> Result<(), Unavailable> {
        match &self.home {
            SlidingHome::Local(l) => {
                l.clear();
                Ok(())
            }
            SlidingHome::Shared { counters, scope } => counters
                .window_clear(scope)
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_without_a_database_counts_in_memory() {
        let store = Store::new(None, crate::store::state::test_state(false));
        let b: Budget<&'static str> = Budget::new(&store, "test", 2, Duration::from_secs(60), 4);
        assert!(!b.is_blocked(&"k").await.unwrap());
        assert!(b.take(&"k").await.unwrap().is_ok());
        assert!(b.take(&"k").await.unwrap().is_ok());
        assert!(b.take(&"k").await.unwrap().is_err(), "the third is refused");
        b.give_back(&"k").await.unwrap();
        assert!(
            !b.is_blocked(&"k").await.unwrap(),
            "a place handed back is free"
        );
        assert!(b.take(&"k").await.unwrap().is_ok());
        assert!(b.is_blocked(&"k").await.unwrap());
        assert_eq!(b.keys().await.unwrap(), 1);
        b.clear().await.unwrap();
        assert!(!b.is_blocked(&"k").await.unwrap());
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn an_address_is_blocked_after_max_events() {
        let l = Limiter::new(3, Duration::from_secs(3600), 10);
        for _ in 0..3 {
            assert!(!l.is_blocked(ip(1)));
            l.record(ip(1));
        }
        assert!(l.is_blocked(ip(1)));
        assert!(!l.is_blocked(ip(2)));
    }

    #[test]
    fn the_window_closes() {
        let l = Limiter::new(1, Duration::from_millis(1), 10);
        l.record(ip(1));
        std::thread::sleep(Duration::from_millis(5));
        assert!(!l.is_blocked(ip(1)));
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let l = Limiter::new(3, Duration::from_secs(3600), 100);
        for n in 0..10_000 {
            l.record(ip(n));
        }
        assert!(l.len() <= 100);
    }

    #[test]
    fn a_blocked_address_that_keeps_trying_stays_blocked_while_others_churn() {
        let l = Limiter::new(3, Duration::from_secs(3600), 100);
        for _ in 0..3 {
            l.record(ip(0));
        }
        for n in 1..10_000 {
            assert!(l.is_blocked(ip(0)), "forgotten after {n} other addresses");
            l.record(ip(n));
        }
    }

    #[test]
    fn a_sliding_budget_refuses_past_max_and_frees_up_as_events_age() {
        let l = SlidingLimit::new(2, Duration::from_millis(30));
        assert!(l.try_take("a"));
        assert!(l.try_take("a"));
        assert!(!l.try_take("a"), "third in the window");
        assert!(l.try_take("b"), "another key has its own budget");
        assert_eq!(l.used("a"), 2);
        l.give_back("a");
        assert_eq!(l.used("a"), 1);
        assert!(l.try_take("a"), "a given-back event frees its place");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(l.used("a"), 0);
        assert!(l.try_take("a"));
        l.clear();
        assert_eq!(l.used("a"), 0);
    }

    #[test]
    fn retry_after_counts_down_the_window_and_used_reads_the_count() {
        let l: Limiter<String> = Limiter::new(2, Duration::from_secs(3600), 10);
        l.record("n".into());
        assert_eq!(l.used(&"n".to_string()), 1);
        assert!(l.retry_after(&"n".to_string()).is_none());
        l.record("n".into());
        let left = l.retry_after(&"n".to_string()).unwrap();
        assert!(left <= Duration::from_secs(3600) && left > Duration::from_secs(3590));
    }
}
