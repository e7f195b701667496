//! `GET /metrics` (SPEC §10): Prometheus text with requests by route and status,
//! a latency histogram, the argon2 queue and its waits, and state writes.
//! Counting happens in the outermost layer; nothing here blocks a request.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::Control;
use super::AppState;
use crate::domain::accounts::Accounts;
use crate::domain::hasher::Hasher;
use crate::store::Store;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Request counters and the sources of the other figures.
#[derive(Debug)]
pub struct Metrics {
    /// Requests by route (the matched route, or `unmatched`) and status. A `std`
    /// mutex held for one map update, never across an `.await`.
    requests: Mutex<HashMap<String, HashMap<u16, u64>>>,
    /// Cumulative latency histogram: one counter per bucket, then `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of latencies, microseconds.
    sum_micros: AtomicU64,
    /// For the argon2 figures.
    hasher: Arc<Hasher>,
    /// For the state-write figures.
    store: Arc<Store>,
    /// For the login limiter's size.
    accounts: Arc<Accounts>,
}

impl Metrics {
    /// Counters starting at zero.
    pub fn new(hasher: Arc<Hasher>, store: Arc<Store>, accounts: Arc<Accounts>) -> Metrics {
        Metrics {
            requests: Mutex::new(HashMap::new()),
            buckets: Default::default(),
            sum_micros: AtomicU64::new(0),
            hasher,
            store,
            accounts,
        }
    }

    /// Counts one finished request.
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
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str("# HELP wa_twostep_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE wa_twostep_requests_total counter\n");
        {
            let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            let mut rows: Vec<_> = requests
                .iter()
                .flat_map(|(route, by)| by.iter().map(move |(s, n)| (route, *s, *n)))
                .collect();
            rows.sort();
            for (route, status, n) in rows {
                let _ = writeln!(
                    out,
                    "wa_twostep_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    route.replace('\\', "\\\\").replace('"', "\\\"")
                );
            }
        }
        out.push_str("# HELP wa_twostep_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE wa_twostep_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "wa_twostep_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "wa_twostep_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "wa_twostep_request_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "wa_twostep_request_duration_seconds_count {cumulative}"
        );
        let (waits, wait_micros) = self.hasher.waited();
        let stats = self.store.stats();
        let gauges: [(&str, &str, &str, f64); 11] = [
            (
                "wa_twostep_login_limiter_addresses",
                "gauge",
                "Client addresses the failed-login limiter remembers.",
                self.accounts.limiter_addresses() as f64,
            ),
            (
                "wa_twostep_tokens_evicted_total",
                "counter",
                "Oldest tokens revoked because their user reached auth.max_tokens_per_user.",
                self.accounts.tokens_evicted() as f64,
            ),
            (
                "wa_twostep_log_lines_dropped_total",
                "counter",
                "Log lines dropped because the log sink was stuck and its queue full.",
                crate::telemetry::dropped_lines() as f64,
            ),
            (
                "wa_twostep_argon2_queue_depth",
                "gauge",
                "Requests waiting for an argon2 slot now.",
                self.hasher.queue_depth() as f64,
            ),
            (
                "wa_twostep_argon2_jobs_total",
                "counter",
                "argon2 hashes and verifications run.",
                self.hasher.jobs_run() as f64,
            ),
            (
                "wa_twostep_argon2_waits_total",
                "counter",
                "argon2 jobs that waited for a slot.",
                waits as f64,
            ),
            (
                "wa_twostep_argon2_wait_seconds_total",
                "counter",
                "Time argon2 jobs spent waiting for a slot.",
                wait_micros as f64 / 1e6,
            ),
            (
                "wa_twostep_state_writes_total",
                "counter",
                "Durable state writes (one fsync each, shared by a batch of changes).",
                stats.batches.load(Ordering::Relaxed) as f64,
            ),
            (
                "wa_twostep_state_write_failures_total",
                "counter",
                "State writes that failed (their changes did not happen).",
                stats.failures.load(Ordering::Relaxed) as f64,
            ),
            (
                "wa_twostep_state_changes_total",
                "counter",
                "Changes acknowledged as durable.",
                stats.changes.load(Ordering::Relaxed) as f64,
            ),
            (
                "wa_twostep_state_write_seconds_total",
                "counter",
                "Time spent making state writes durable.",
                stats.write_micros.load(Ordering::Relaxed) as f64 / 1e6,
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

/// `GET /metrics`: needs the control token when one is set, like the control plane.
pub async fn metrics(State(state): State<AppState>, _c: Control) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
