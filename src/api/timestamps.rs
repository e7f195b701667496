//! The timestamp formats the API shows: RFC 3339 with milliseconds (the
//! control plane's `updated_at` and journal `time`), the real On-Premises server's
//! `expires_after`, and the Graph API's expired-token message. Wire formats, so they live at the edge; the clock itself is
//! `crate::clock`.

use time::macros::format_description;
use time::OffsetDateTime;

/// `2026-11-25T21:00:00.123Z`: RFC 3339, UTC, always with milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// `2026-12-02 21:00:00+00:00`: the real server's `expires_after`, PHP's
/// `Y-m-d H:i:sP` in UTC (docs/on-premises.md#login-and-tokens).
pub fn php_datetime(secs: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]+00:00");
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// `Tuesday, 25-Nov-25 21:00:00 UTC`: the times in the Graph API's expired-token
/// message, PHP's `l, d-M-y H:i:s T` (docs/cloud.md#tokens-and-permissions), in UTC.
pub fn graph_session_time(secs: i64) -> String {
    let fmt = format_description!(
        "[weekday], [day]-[month repr:short]-[year repr:last_two] [hour]:[minute]:[second] UTC"
    );
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339_ms(1_764_104_400_123), "2025-11-25T21:00:00.123Z");
        assert_eq!(rfc3339_ms(1_764_104_400_000), "2025-11-25T21:00:00.000Z");
        assert_eq!(php_datetime(1_764_104_400), "2025-11-25 21:00:00+00:00");
        assert_eq!(
            graph_session_time(1_764_104_400),
            "Tuesday, 25-Nov-25 21:00:00 UTC"
        );
    }
}
