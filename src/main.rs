//! The `wa-twostep` binary: flags → settings → logs → build → ready line → serve
//! until SIGINT/SIGTERM (or, with `--print-config`, print the settings and exit). Exit status: 0 clean stop, 2 configuration error, 1 other
//! start-up failure (docs/behaviour.md#configuration-and-command-line).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use wa_twostep::cli::Cli;
use wa_twostep::startup::App;
use wa_twostep::{config, telemetry};

/// jemalloc rather than glibc's malloc (see the `jemalloc` feature in Cargo.toml):
/// fewer instructions per allocation, and no fast-bin consolidation each time a
/// request allocates a block over 1 KiB.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wa-twostep: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.print_config {
        return match settings.redacted_toml() {
            Ok(text) => {
                let mut out = std::io::stdout().lock();
                if out
                    .write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    return ExitCode::from(1);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("wa-twostep: {e}");
                ExitCode::from(1)
            }
        };
    }
    // Held to the end of `main`, after the runtime: dropping it flushes queued log lines.
    let _log_guard = telemetry::init(settings.log.format, &settings.log.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wa-twostep: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // Named in the start-up line, so the log says which file this run works on.
    let state = if settings.state.backend == config::Backend::Postgres {
        "PostgreSQL (state.postgres_url)".to_owned()
    } else if settings.state.ephemeral {
        "memory only".to_owned()
    } else {
        let path = &settings.state.path;
        std::path::absolute(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string()
    };
    runtime.block_on(async move {
        let app = match App::build(settings).await {
            Ok(app) => app,
            Err(e) if e.is_configuration() => {
                eprintln!("wa-twostep: configuration error: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("wa-twostep: {e}");
                return ExitCode::from(1);
            }
        };
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            addr = %app.local_addr(),
            state = state.as_str(),
            "ready"
        );
        // Before the ready line: whoever reads it may signal at once, and a signal
        // that arrives before its handler is in place kills the process instead.
        let shutdown = shutdown_signal();
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{}", app.local_addr());
            let _ = out.flush();
        }
        match app.run_until(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wa-twostep: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// Installs the SIGINT and SIGTERM handlers now; the future completes on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    async move {
        // A handler that could not be installed never fires.
        let int = async {
            match int.as_mut() {
                Some(s) => drop(s.recv().await),
                None => std::future::pending::<()>().await,
            }
        };
        let term = async {
            match term.as_mut() {
                Some(s) => drop(s.recv().await),
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = int => {},
            () = term => {},
        }
    }
}
