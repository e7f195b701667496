//! The plain-text log line, written by hand: `2026-12-01T10:54:23.212654Z  INFO
//! request method=GET route="/v1/health" status=200 …`, the same text as
//! tracing-subscriber's default full format without target or ANSI colours.
//! A profile put that formatter at ~7,700 instructions of a ~46,000-instruction
//! request (timestamp formatting, one `fmt::write` per field); this one formats
//! the date once per second per thread and writes integers and plain strings
//! without the formatting machinery.

use std::cell::Cell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter for `log.format = "pretty"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(level(*event.metadata().level()))?;
        let mut fields = Fields {
            out: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// The level, right-aligned to five characters after one space, as the default format.
fn level(level: Level) -> &'static str {
    match level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

thread_local! {
    /// The Unix second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS`.
    static DATE: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` (UTC, microseconds).
pub(super) fn write_timestamp(out: &mut impl Write, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let date = DATE.with(|cache| {
        let (cached, text) = cache.get();
        if cached == secs {
            return text;
        }
        let text = civil(secs);
        cache.set((secs, text));
        text
    });
    out.write_str(std::str::from_utf8(&date).unwrap_or("????-??-??T??:??:??"))?;
    let mut frac = *b".000000Z";
    let mut micros = since.subsec_micros();
    for digit in frac[1..7].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    out.write_str(std::str::from_utf8(&frac).unwrap_or(".000000Z"))
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix second (proleptic Gregorian, UTC), after
/// Howard Hinnant's `civil_from_days`.
fn civil(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999));
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, (rem / 3600) as i64);
    put(14, 2, (rem / 60 % 60) as i64);
    put(17, 2, (rem % 60) as i64);
    out
}

/// `value` quoted like `Debug`; only strings that need escapes take the slow path.
pub(super) fn write_quoted(out: &mut impl Write, value: &str) -> fmt::Result {
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.write_char('"')?;
        out.write_str(value)?;
        out.write_char('"')
    } else {
        write!(out, "{value:?}")
    }
}

/// Writes the event's fields: the message bare, the others as `key=value`.
struct Fields<'a, W: Write> {
    /// Where the line goes.
    out: &'a mut W,
    /// No field written yet (no separating space needed).
    first: bool,
    /// The first write error, reported after the visit.
    result: fmt::Result,
}

impl<W: Write> Fields<'_, W> {
    /// Starts a field: the separator, then `key=` unless it is the message.
    fn start(&mut self, field: &Field) {
        if !std::mem::replace(&mut self.first, false) {
            self.push(" ");
        }
        if field.name() != "message" {
            self.push(field.name());
            self.push("=");
        }
    }

    fn push(&mut self, s: &str) {
        if self.result.is_ok() {
            self.result = self.out.write_str(s);
        }
    }
}

impl<W: Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.start(field);
        if field.name() == "message" {
            return self.push(value);
        }
        if self.result.is_ok() {
            self.result = write_quoted(self.out, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.start(field);
        self.push(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.start(field);
        self.push(itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.start(field);
        self.push(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.start(field);
        if self.result.is_ok() {
            self.result = write!(self.out, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_the_calendar() {
        assert_eq!(&civil(0), b"1970-01-01T00:00:00");
        assert_eq!(&civil(951_782_400), b"2000-02-29T00:00:00");
        assert_eq!(&civil(1_795_000_000), b"2026-11-18T11:06:40");
        assert_eq!(&civil(4_102_444_799), b"2099-12-31T23:59:59");
    }

    #[test]
    fn the_timestamp_has_microseconds_and_z() {
        let t = UNIX_EPOCH + std::time::Duration::from_micros(1_795_000_000_000_042);
        let mut s = String::new();
        write_timestamp(&mut s, t).unwrap();
        assert_eq!(s, "2026-11-18T11:06:40.000042Z");
    }
}
