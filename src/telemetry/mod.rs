//! Logging: a `tracing` subscriber writing pretty or JSON lines to stderr
//! (stdout carries only the ready line). `RUST_LOG` overrides `log.level`; both are
//! checked at start-up by [`check_filter`], so a typo stops the server instead of
//! silently filtering every line out.
//!
//! Lines are handed to a writer thread ([`sink`]): the async workers never make
//! the `write` call themselves, so a slow log sink (a full pipe, a disk under
//! writeback) cannot stall request handling, and under load many lines go out in
//! one system call. In normal operation every request gets its line. When the
//! sink is stuck (a pipe nobody reads, a stalled log driver) and the buffer is
//! full, new lines are dropped rather than waited for: a lossless queue froze
//! every request, health probes included, after ~66,000 lines into an unread
//! pipe. Drops are counted ([`dropped_lines`], shown in `/metrics`) and reported
//! in one line once the sink writes again.

use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

use serde::{Deserialize, Serialize};

mod line;
mod request;
mod sink;

pub use request::{log as log_request, RequestLine};
pub use sink::LogGuard;

/// Log line format (`log.format`, `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Checks a filter (`log.level` or `RUST_LOG`): it must parse, and every directive
/// without `=` must be a level. `tracing` reads a bare word such as `warning` as a
/// target name and then logs nothing from anywhere else, the silent failure this
/// check exists to stop; to filter by target, write `target=level`.
pub fn check_filter(directives: &str) -> Result<(), String> {
    if let Err(e) = EnvFilter::try_new(directives) {
        return Err(format!("is not a valid filter ({e})"));
    }
    for directive in directives.split(',').map(str::trim) {
        // The level is what follows the last `=`, unless that `=` is inside a span's
        // field filter (`target[span{field=value}]`, which has no level).
        let level = match directive.rsplit_once('=') {
            Some((_, level)) if !level.contains([']', '}']) => level,
            Some(_) => continue,
            None if directive.is_empty() || directive.contains('[') => continue,
            None => directive,
        };
        if level.parse::<LevelFilter>().is_err() {
            return Err(format!(
                "`{directive}` is not a level: use trace, debug, info, warn, error or off \
                 (target=level to filter one target, e.g. wa_twostep=debug)"
            ));
        }
    }
    Ok(())
}

/// Installs the global subscriber and returns the guard of its writer thread:
/// keep it alive until exit, as dropping it writes what is still queued. Safe to
/// call more than once (later calls leave the first subscriber in place), so
/// embedding the server in a test process cannot panic here.
pub fn init(format: LogFormat, level: &str) -> LogGuard {
    // An empty RUST_LOG counts as unset; an invalid one was refused at start-up by
    // `config::load` (an embedding process may not have checked it, hence the fallback).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(level));
    let (writer, counters, guard) = sink::start(std::io::stderr());
    if COUNTERS.set(counters.clone()).is_ok() {
        spawn_drop_reporter(counters);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .with_target(false);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        // Plain text, no ANSI colours (the colour layer cost ~3k instructions per request
        // line in a profile, and logs usually go to files and collectors anyway), written
        // by a formatter of our own (see `line`).
        LogFormat::Pretty => builder.event_format(line::LineFormat).try_init(),
    };
    if installed.is_ok() {
        // The request line may skip the event machinery: the sink is ours.
        request::install(format, writer);
    }
    guard
}

/// The writer's counters, once logging is installed.
static COUNTERS: OnceLock<sink::Counters> = OnceLock::new();

/// Log lines dropped since start because the sink was stuck and the buffer full.
pub fn dropped_lines() -> u64 {
    COUNTERS.get().map_or(0, sink::Counters::dropped_lines)
}

/// Once a second: when lines were dropped and the sink has written since, says
/// how many in one line. A report made while the sink is still stuck would itself
/// be dropped, so it waits for progress.
fn spawn_drop_reporter(counters: sink::Counters) {
    let spawned = std::thread::Builder::new()
        .name("wa-twostep-log-drops".into())
        .spawn(move || {
            let mut reported = 0;
            let mut last_written = counters.written_bytes();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let now_written = counters.written_bytes();
                let total = counters.dropped_lines();
                if total > reported && now_written > last_written {
                    tracing::warn!(
                        dropped_lines = total - reported,
                        dropped_total = total,
                        "the log sink was stuck: lines were dropped"
                    );
                    reported = total;
                }
                last_written = now_written;
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the log drop reporter");
    }
}

#[cfg(test)]
mod tests {
    use super::check_filter;

    #[test]
    fn levels_and_target_directives_pass() {
        for ok in [
            "info",
            "WARN",
            "off",
            "wa_twostep=debug",
            "info,hyper=warn",
            "wa_twostep[request]=trace",
            "[request{path=/v1}]",
        ] {
            assert_eq!(check_filter(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn a_word_that_is_not_a_level_is_refused_with_the_levels_listed() {
        for bad in ["warning", "info,verbose", "wa_twostep=warning", "[[["] {
            let why = check_filter(bad).expect_err(bad);
            assert!(
                why.contains("trace, debug") || why.contains("valid"),
                "{why}"
            );
        }
        assert!(check_filter("warning").unwrap_err().contains("`warning`"));
    }
}
