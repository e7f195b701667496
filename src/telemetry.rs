//! Logging: a `tracing` subscriber writing pretty or JSON lines to stderr
//! (stdout carries only the ready line). `RUST_LOG` overrides `log.level`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Safe to call more than once (later calls are
/// ignored), so embedding the server in a test process cannot panic here.
pub fn init(settings: &LogSettings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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
}
