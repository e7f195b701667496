//! The request journal (docs/behaviour.md#control-plane): what the clients under test sent and what they
//! got, for a test to inspect. It records the method, the path (no query string),
//! the final status, the request id, the time and the latency — never a header or
//! a body, so no PIN, password or token can reach it. Memory only; bounded.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::{HeaderValue, Method};
use serde::Serialize;

use super::is_control_path;
use crate::api::timestamps::rfc3339_ms;
use crate::domain::control::{ResetHook, ResetOptions};

/// Whether a request to `path` is journaled: not the control plane (the journal
/// shows a client's calls, not the test's inspection of them), and not the
/// metrics scrape (a monitor's polling, not a client's call, would crowd it out).
pub fn is_journaled(path: &str) -> bool {
    !is_control_path(path) && path != "/metrics"
}

fn as_str<T: AsStr, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_text())
}

/// The text of a journal field kept in its wire type (no copy per request).
trait AsStr {
    fn as_text(&self) -> &str;
}

impl AsStr for Method {
    fn as_text(&self) -> &str {
        self.as_str()
    }
}

impl AsStr for HeaderValue {
    fn as_text(&self) -> &str {
        self.to_str().unwrap_or_default()
    }
}

fn as_rfc3339_ms<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_ms(*ms))
}

/// One answered request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    /// HTTP method.
    #[serde(serialize_with = "as_str")]
    pub method: Method,
    /// Path as sent, without the query string.
    pub path: String,
    /// Final status, as the client saw it.
    pub status: u16,
    /// The `X-Request-ID` the response carried (visible ASCII: checked when it
    /// arrived, or made here).
    #[serde(serialize_with = "as_str")]
    pub request_id: HeaderValue,
    /// When the request arrived (Unix milliseconds), shown as RFC 3339 UTC with
    /// milliseconds; formatted when the journal is read, not on every request.
    #[serde(serialize_with = "as_rfc3339_ms")]
    pub time: i64,
    /// Time from arrival to the response head, in milliseconds (microsecond resolution).
    pub latency_ms: f64,
}

/// The last `capacity` requests, oldest first.
#[derive(Debug)]
pub struct Journal {
    /// `control.journal_capacity`; 0 disables recording.
    capacity: usize,
    /// A `std` mutex: it guards a few pointer moves and is never held across
    /// an `.await`, so an async lock would only add cost.
    entries: Mutex<VecDeque<Entry>>,
}

impl Journal {
    /// An empty journal keeping at most `capacity` entries (0: records nothing).
    pub fn new(capacity: usize) -> Journal {
        Journal {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
        }
    }

    /// The configured capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        // A panic while holding this lock cannot leave the deque inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `entry`, dropping the oldest when full.
    pub fn record(&self, entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().iter().cloned().collect()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl ResetHook for Journal {
    /// A reset empties the journal only when asked (`?journal=true`).
    fn reset(&self, options: ResetOptions) {
        if options.clear_journal {
            self.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u16) -> Entry {
        Entry {
            method: Method::GET,
            path: format!("/v1/{n}"),
            status: n,
            request_id: HeaderValue::from(n),
            time: 0,
            latency_ms: 0.0,
        }
    }

    #[test]
    fn a_full_journal_drops_the_oldest_entry() {
        let j = Journal::new(2);
        for n in 1..=3 {
            j.record(entry(n));
        }
        let statuses: Vec<u16> = j.entries().iter().map(|e| e.status).collect();
        assert_eq!(statuses, [2, 3]);
    }

    #[test]
    fn a_zero_capacity_journal_records_nothing() {
        let j = Journal::new(0);
        j.record(entry(1));
        assert!(j.entries().is_empty());
    }

    #[test]
    fn the_emulated_api_and_unknown_paths_are_journaled_but_not_metrics() {
        assert!(is_journaled("/v1/health"));
        assert!(is_journaled("/nowhere"));
        assert!(!is_journaled("/metrics"));
        assert!(!is_journaled("/__sandbox/state"));
    }
}
