//! Counting limits: the failed-login limit (docs/behaviour.md#failed-login-limit,
//! keyed by client address) and the registration PIN-guess budget (one key for
//! the number). [`Budget`] is what the services use: in memory ([`Limiter`]) with
//! the file backend, in the database when several servers share the state, so
//! every server counts into the same budget (docs/behaviour.md#several-replicas).
//! Memory is bounded either way.
//!
//! Each address gets a fixed window that opens at its first counted event and lasts
//! `window`; once `max` events fall in the window, the address is blocked until it
//! closes. This mirrors the real server's per-IP counter of wrong logins per hour
//! (docs/on-premises.md#login-and-tokens, `RL_MAX_WRONG_LOGINS` = 30 per 3600 s).

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

impl<K: Hash + Eq> Limiter<K> {
    /// A limiter allowing `max` events per `window` per address.
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
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        matches!(entries.get(&addr), Some((start, n)) if now.duration_since(*start) < self.window && *n >= self.max)
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
        match &self.home {
            Home::Local(l) => Ok(l.is_blocked(key.clone())),
            Home::Shared { counters, scope } => counters
                .is_blocked(scope, &key.to_string(), self.max, self.window)
                .await
                .map_err(Unavailable::StateUnreachable),
        }
    }

    /// Counts one event for `key`.
    pub async fn record(&self, key: &K) -> Result<(), Unavailable> {
        match &self.home {
            Home::Local(l) => {
                l.record(key.clone());
                Ok(())
            }
            Home::Shared { counters, scope } => counters
                .record(scope, &key.to_string(), self.window)
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

    /// Keys remembered in this server's memory (0 when the budget is shared).
    pub fn local_len(&self) -> usize {
        match &self.home {
            Home::Local(l) => l.len(),
            Home::Shared { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_without_a_database_counts_in_memory() {
        let store = Store::new(
            None,
            crate::store::State::seed(crate::secret::Secret::new("h"), false, true),
        );
        let b: Budget<&'static str> = Budget::new(&store, "test", 2, Duration::from_secs(60), 4);
        assert!(!b.is_blocked(&"k").await.unwrap());
        b.record(&"k").await.unwrap();
        b.record(&"k").await.unwrap();
        assert!(b.is_blocked(&"k").await.unwrap());
        assert_eq!(b.local_len(), 1);
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
}
