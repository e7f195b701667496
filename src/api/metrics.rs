//! `GET /metrics` (docs/behaviour.md#observability): the registry (`crate::metrics`) rendered as
//! Prometheus text: requests by route and status, a latency histogram, the
//! argon2 queue and its waits, state writes, the login limiter's size, tokens
//! revoked by the per-user cap, and log lines dropped by a stuck log sink.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::ControlCaller;
use super::AppState;
use crate::metrics::Metrics;

/// Figures sampled from the users service at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct UserFigures {
    /// Client addresses the failed-login limiter remembers.
    pub login_limiter_addresses: usize,
    /// Tokens revoked because their user reached `auth.max_tokens_per_user`.
    pub tokens_evicted: u64,
}

/// The Prometheus text exposition of `metrics`, plus the users service's figures.
pub fn render(metrics: &Metrics, users: UserFigures) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("# HELP wa_twostep_requests_total Requests answered, by route and status.\n");
    out.push_str("# TYPE wa_twostep_requests_total counter\n");
    for (route, status, n) in metrics.requests() {
        let _ = writeln!(
            out,
            "wa_twostep_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            route.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    out.push_str("# HELP wa_twostep_request_duration_seconds Request latency.\n");
    out.push_str("# TYPE wa_twostep_request_duration_seconds histogram\n");
    let latency = metrics.latency();
    for (bound, cumulative) in &latency.buckets {
        let _ = writeln!(
            out,
            "wa_twostep_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = latency.count;
    let _ = writeln!(
        out,
        "wa_twostep_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "wa_twostep_request_duration_seconds_sum {}",
        latency.sum_secs
    );
    let _ = writeln!(out, "wa_twostep_request_duration_seconds_count {count}");
    let argon2 = metrics.argon2();
    let writes = metrics.state_writes();
    let micros_as_secs = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed) as f64 / 1e6;
    let gauges: [(&str, &str, &str, f64); 11] = [
        (
            "wa_twostep_login_limiter_addresses",
            "gauge",
            "Client addresses the failed-login limiter remembers.",
            users.login_limiter_addresses as f64,
        ),
        (
            "wa_twostep_tokens_evicted_total",
            "counter",
            "Oldest tokens revoked because their user reached auth.max_tokens_per_user.",
            users.tokens_evicted as f64,
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
            argon2.waiting.load(Ordering::SeqCst) as f64,
        ),
        (
            "wa_twostep_argon2_jobs_total",
            "counter",
            "argon2 hashes and verifications run.",
            argon2.jobs.load(Ordering::Relaxed) as f64,
        ),
        (
            "wa_twostep_argon2_waits_total",
            "counter",
            "argon2 jobs that waited for a slot.",
            argon2.waits.load(Ordering::Relaxed) as f64,
        ),
        (
            "wa_twostep_argon2_wait_seconds_total",
            "counter",
            "Time argon2 jobs spent waiting for a slot.",
            micros_as_secs(&argon2.wait_micros),
        ),
        (
            "wa_twostep_state_writes_total",
            "counter",
            "Durable state writes (one fsync each, shared by a batch of changes).",
            writes.batches.load(Ordering::Relaxed) as f64,
        ),
        (
            "wa_twostep_state_write_failures_total",
            "counter",
            "State writes that failed (their changes did not happen).",
            writes.failures.load(Ordering::Relaxed) as f64,
        ),
        (
            "wa_twostep_state_changes_total",
            "counter",
            "Changes acknowledged as durable.",
            writes.changes.load(Ordering::Relaxed) as f64,
        ),
        (
            "wa_twostep_state_write_seconds_total",
            "counter",
            "Time spent making state writes durable.",
            micros_as_secs(&writes.write_micros),
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

/// `GET /metrics`: needs the control token when one is set, like the control plane.
pub async fn metrics(State(state): State<AppState>, _c: ControlCaller) -> Response {
    // On a shared state the limiter lives in the database; while it cannot be
    // reached the gauge reads 0 rather than failing the whole scrape.
    let login_limiter_addresses = state.users.limiter_addresses().await.unwrap_or(0);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(
            &state.metrics,
            UserFigures {
                login_limiter_addresses,
                tokens_evicted: state.users.tokens_evicted(),
            },
        ),
    )
        .into_response()
}
