//! Logging: a `tracing` subscriber writing pretty or JSON lines to stderr
//! (stdout carries only the ready line). `RUST_LOG` overrides `log.level`.
//!
//! Lines are handed to a writer thread that owns a buffered stderr: the async
//! workers never make the `write` call themselves, so a slow log sink (a full
//! pipe, a disk under writeback) cannot stall request handling, and under load
//! many lines go out in one system call. Nothing is dropped: when the queue is
//! full, logging waits (`lossy(false)`).

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Lines that may wait for the writer thread before logging blocks.
const QUEUE_LINES: usize = 64 * 1024;

/// Installs the global subscriber and returns the guard of its writer thread:
/// keep it alive until exit, as dropping it flushes what is still queued. Safe to
/// call more than once (later calls leave the first subscriber in place), so
/// embedding the server in a test process cannot panic here.
pub fn init(settings: &LogSettings) -> WorkerGuard {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(&settings.level));
    let stderr = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUE_LINES)
        .thread_name("wa-twostep-log")
        .finish(stderr);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        // Plain text, no ANSI colours: the colour layer cost ~3k instructions per request
        // line in a profile, and logs usually go to files and collectors anyway.
        LogFormat::Pretty => builder.try_init(),
    };
    guard
}
