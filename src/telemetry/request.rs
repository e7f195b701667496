//! The per-request log line, written without the `tracing` event machinery
//! when our own subscriber is installed: the event's dispatch, field visiting
//! and formatting through `dyn fmt::Write` were ~4,000 instructions of a cheap
//! request. The line is the same text the subscriber writes (pretty or JSON),
//! the same filter decides whether it is written (`tracing::enabled!` at the
//! same target and level), and it goes into the same sink, so order with other
//! lines is kept. Without our subscriber (an embedding process installs its
//! own) it is an ordinary `tracing` event.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::SystemTime;

use super::line::{write_quoted, write_timestamp};
use super::sink::Sink;
use super::LogFormat;

/// The target the line is filtered by, as the event in `api::middleware` had.
const TARGET: &str = "wa_twostep::api::middleware";

/// The fields of one request's line (never headers or bodies).
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The matched route template, or `-`.
    pub route: &'a str,
    /// The final status.
    pub status: u16,
    /// Arrival to response, in microseconds.
    pub latency_us: u64,
    /// The `X-Request-ID` the response carries.
    pub request_id: &'a str,
}

/// Our subscriber's format and sink, once it is the global one.
static DIRECT: OnceLock<(LogFormat, Sink)> = OnceLock::new();

/// Called by `init` once its subscriber is installed.
pub(super) fn install(format: LogFormat, sink: Sink) {
    let _ = DIRECT.set((format, sink));
}

thread_local! {
    /// The line being written, reused (no allocation per line).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Logs one request at info level.
pub fn log(line: &RequestLine<'_>) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let Some((format, sink)) = DIRECT.get() else {
        tracing::info!(
            target: TARGET,
            method = line.method,
            route = line.route,
            status = line.status,
            latency_us = line.latency_us,
            request_id = line.request_id,
            "request"
        );
        return;
    };
    LINE.with(|buf| {
        let Ok(mut text) = buf.try_borrow_mut() else {
            return;
        };
        text.clear();
        let written = match format {
            LogFormat::Pretty => pretty(&mut text, line, SystemTime::now()),
            LogFormat::Json => json(&mut text, line, SystemTime::now()),
        };
        if written.is_ok() {
            sink.write_line(text.as_bytes());
        }
    });
}

/// `<timestamp>  INFO request method="GET" route="/x" status=200 latency_us=62 request_id="…"`.
fn pretty(out: &mut String, line: &RequestLine<'_>, now: SystemTime) -> std::fmt::Result {
    write_timestamp(out, now)?;
    out.push_str("  INFO request method=");
    write_quoted(out, line.method)?;
    out.push_str(" route=");
    write_quoted(out, line.route)?;
    out.push_str(" status=");
    out.push_str(itoa::Buffer::new().format(line.status));
    out.push_str(" latency_us=");
    out.push_str(itoa::Buffer::new().format(line.latency_us));
    out.push_str(" request_id=");
    write_quoted(out, line.request_id)?;
    out.push('\n');
    Ok(())
}

/// The JSON object tracing-subscriber's flattened JSON format writes for the event.
fn json(out: &mut String, line: &RequestLine<'_>, now: SystemTime) -> std::fmt::Result {
    out.push_str("{\"timestamp\":\"");
    write_timestamp(out, now)?;
    out.push_str("\",\"level\":\"INFO\",\"message\":\"request\",\"method\":");
    json_str(out, line.method);
    out.push_str(",\"route\":");
    json_str(out, line.route);
    out.push_str(",\"status\":");
    out.push_str(itoa::Buffer::new().format(line.status));
    out.push_str(",\"latency_us\":");
    out.push_str(itoa::Buffer::new().format(line.latency_us));
    out.push_str(",\"request_id\":");
    json_str(out, line.request_id);
    out.push_str("}\n");
    Ok(())
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn json_str(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // Serializing a `&str` cannot fail.
        out.push_str(&serde_json::to_string(text).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn sample(request_id: &str) -> RequestLine<'_> {
        RequestLine {
            method: "DELETE",
            route: "/v1/settings/account/two-step",
            status: 200,
            latency_us: 62,
            request_id,
        }
    }

    const AT: u64 = 1_795_000_000_000_042;

    #[test]
    fn the_pretty_line_is_the_subscribers_text() {
        let mut out = String::new();
        let now = UNIX_EPOCH + Duration::from_micros(AT);
        pretty(&mut out, &sample("a\"b\\c"), now).unwrap();
        assert_eq!(
            out,
            "2026-11-18T11:06:40.000042Z  INFO request method=\"DELETE\" \
             route=\"/v1/settings/account/two-step\" status=200 latency_us=62 \
             request_id=\"a\\\"b\\\\c\"\n"
        );
    }

    #[test]
    fn the_json_line_is_one_object_with_the_subscribers_keys() {
        let mut out = String::new();
        let now = UNIX_EPOCH + Duration::from_micros(AT);
        json(&mut out, &sample("a\"b\\c"), now).unwrap();
        assert!(out.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "timestamp": "2026-11-18T11:06:40.000042Z",
                "level": "INFO",
                "message": "request",
                "method": "DELETE",
                "route": "/v1/settings/account/two-step",
                "status": 200,
                "latency_us": 62,
                "request_id": "a\"b\\c",
            })
        );
        let keys: Vec<&str> = out
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|k| {
                [
                    "timestamp",
                    "level",
                    "message",
                    "method",
                    "route",
                    "status",
                    "latency_us",
                    "request_id",
                ]
                .contains(k)
            })
            .collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "level",
                "message",
                "method",
                "route",
                "status",
                "latency_us",
                "request_id"
            ]
        );
    }
}
