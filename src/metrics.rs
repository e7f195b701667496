//! The metrics registry: the counters behind `GET /metrics`, in one
//! place outside the HTTP edge. The edge records each answered request here; the
//! store and the argon2 pool count into the [`StateWrites`] and [`Argon2`]
//! blocks they share with the registry. Rendering the Prometheus text is the
//! edge's job (`api::metrics`). A leaf module: it imports nothing from the crate,
//! so every layer may report into it. Nothing here blocks a request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The state writer's counters; the store counts into them.
#[derive(Debug, Default)]
pub struct StateWrites {
    /// Batches made durable (one fsync each, or a snapshot).
    pub batches: AtomicU64,
    /// Changes acknowledged as durable.
    pub changes: AtomicU64,
    /// Batches whose write failed.
    pub failures: AtomicU64,
    /// Total microseconds spent making batches durable.
    pub write_micros: AtomicU64,
}

/// The argon2 pool's counters; the hasher counts into them.
#[derive(Debug, Default)]
pub struct Argon2 {
    /// Requests waiting for a hashing slot right now. The hasher also reads it to
    /// refuse work when the queue is full, so it is exact, not sampled.
    pub waiting: AtomicUsize,
    /// Jobs run (hashes and verifications).
    pub jobs: AtomicU64,
    /// Jobs that had to wait for a slot.
    pub waits: AtomicU64,
    /// Total wait for a slot, microseconds.
    pub wait_micros: AtomicU64,
}

/// The latency histogram at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// `(upper bound in seconds, requests at or under it)`, cumulative, one per
    /// [`LATENCY_BUCKETS`] entry.
    pub buckets: Vec<(f64, u64)>,
    /// Every request counted (the `+Inf` bucket).
    pub count: u64,
    /// Sum of latencies, seconds.
    pub sum_secs: f64,
}

/// The registry.
#[derive(Debug)]
pub struct Metrics {
    /// Requests by route (the matched route, or `-`) and status. A `std` mutex
    /// held for one map update, never across an `.await`.
    requests: Mutex<HashMap<String, HashMap<u16, u64>>>,
    /// Latency histogram: one counter per bucket, then `+Inf` (not cumulative).
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of latencies, microseconds.
    sum_micros: AtomicU64,
    /// Shared with the hasher.
    argon2: Arc<Argon2>,
    /// Shared with the store.
    state_writes: Arc<StateWrites>,
}

impl Metrics {
    /// Request counters at zero, with the hasher's and the store's counter blocks.
    pub fn new(argon2: Arc<Argon2>, state_writes: Arc<StateWrites>) -> Metrics {
        Metrics {
            requests: Mutex::new(HashMap::new()),
            buckets: Default::default(),
            sum_micros: AtomicU64::new(0),
            argon2,
            state_writes,
        }
    }

    /// Counts one answered request.
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            match requests.get_mut(route) {
                Some(by_status) => *by_status.entry(status).or_insert(0) += 1,
                None => {
                    requests.insert(route.to_owned(), HashMap::from([(status, 1)]));
                }
            }
        }
        let secs = latency.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// `(route, status, requests)`, sorted.
    pub fn requests(&self) -> Vec<(String, u16, u64)> {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = requests
            .iter()
            .flat_map(|(route, by)| by.iter().map(move |(s, n)| (route.clone(), *s, *n)))
            .collect();
        rows.sort();
        rows
    }

    /// The latency histogram now.
    pub fn latency(&self) -> Latency {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            buckets.push((*bound, cumulative));
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        Latency {
            buckets,
            count: cumulative,
            sum_secs: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// The argon2 pool's counters.
    pub fn argon2(&self) -> &Argon2 {
        &self.argon2
    }

    /// The state writer's counters.
    pub fn state_writes(&self) -> &StateWrites {
        &self.state_writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_status_and_latency_bucket() {
        let m = Metrics::new(Arc::default(), Arc::default());
        m.record("/v1/health", 200, Duration::from_micros(400));
        m.record("/v1/health", 200, Duration::from_millis(3));
        m.record("-", 404, Duration::from_secs(10));
        assert_eq!(
            m.requests(),
            [("-".into(), 404, 1), ("/v1/health".into(), 200, 2)]
        );
        let latency = m.latency();
        assert_eq!(latency.buckets[0], (0.0005, 1));
        assert_eq!(latency.buckets[3], (0.005, 2));
        assert_eq!(latency.buckets.last(), Some(&(2.5, 2)));
        assert_eq!(latency.count, 3);
        assert!((latency.sum_secs - 10.0034).abs() < 1e-9);
    }
}
