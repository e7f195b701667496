//! The one wall clock: Unix time in milliseconds and in seconds. The store, the
//! services and the edge all read time here, so there is one source to reason
//! about (and, later, to fake in tests). Formatting time for the wire is the
//! edge's business (`api::timestamps`), not this module's.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds (0 if the system clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix time in seconds (0 if the system clock is before 1970).
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_and_seconds_agree() {
        let (ms, secs) = (now_ms(), now_secs());
        assert!((ms / 1000 - secs).abs() <= 1, "{ms} ms vs {secs} s");
        assert!(secs > 1_700_000_000);
    }
}
