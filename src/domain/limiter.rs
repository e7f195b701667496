//! Counting limiter keyed by client address: the failed-login limit (docs/behaviour.md#failed-login-limit) and,
//! later, the registration PIN-guess limit. Memory is bounded.
//!
//! Each address gets a fixed window that opens at its first counted event and lasts
//! `window`; once `max` events fall in the window, the address is blocked until it
//! closes. This mirrors the real server's per-IP counter of wrong logins per hour
//! (docs/on-premises.md#login-and-tokens, `RL_MAX_WRONG_LOGINS` = 30 per 3600 s).

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

/// A bounded per-address event counter.
#[derive(Debug)]
pub struct Limiter {
    /// Events allowed per window.
    max: u32,
    /// Window length.
    window: Duration,
    /// Window start and count per address, least recently counted first: when
    /// full, forgetting one address is O(1). (Scanning for the stalest entry under
    /// the lock cut failed-login throughput tenfold once the map was full.) A `std`
    /// mutex: held for one map operation only, never across an `.await`.
    entries: Mutex<LruCache<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    /// A limiter allowing `max` events per `window` per address.
    pub fn new(max: u32, window: Duration, capacity: usize) -> Limiter {
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
    pub fn is_blocked(&self, addr: IpAddr) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        matches!(entries.get(&addr), Some((start, n)) if now.duration_since(*start) < self.window && *n >= self.max)
    }

    /// Counts one event for `addr`.
    pub fn record(&self, addr: IpAddr) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
