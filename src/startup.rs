//! Wiring: settings → store, hasher, services, router → a bound listener; then
//! the accept loop with header-read timeouts and a bounded graceful drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::api::envelope::Wire;
use crate::api::faults::Faults;
use crate::api::journal::Journal;
use crate::api::metrics::Metrics;
use crate::api::{router, AppState, EdgeConfig};
use crate::config::Settings;
use crate::domain::accounts::Accounts;
use crate::domain::hasher::{HashError, Hasher};
use crate::domain::registration::Registration;
use crate::domain::sandbox::Sandbox;
use crate::domain::two_step::TwoStep;
use crate::seed::{Seed, SeedError};
use crate::store::{FaultHook, OpenError, StateFile, Store};

/// A start-up failure (the binary exits 1). Messages name the file or address.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The state file is locked, unreadable, corrupt or of an unknown schema.
    #[error(transparent)]
    State(#[from] OpenError),
    /// The state file's directory does not exist. Exit 1 like every other state-file
    /// failure: the setting is well-formed, the machine lacks the directory.
    #[error(
        "state file {path}: directory {dir} does not exist; create it, or point --state / state.path at an existing directory"
    )]
    StateDir {
        /// The state file.
        path: std::path::PathBuf,
        /// Its missing directory.
        dir: std::path::PathBuf,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The seed admin password could not be hashed.
    #[error("cannot hash the seed admin password: {0}")]
    Hash(#[from] HashError),
    /// The seed file is unreadable or invalid: a configuration error (exit 2).
    #[error(transparent)]
    Seed(#[from] SeedError),
}

impl StartupError {
    /// True for configuration mistakes (exit status 2), false for other failures (1).
    pub fn is_configuration(&self) -> bool {
        matches!(self, StartupError::Seed(_))
    }
}

/// A built server: bound, with state loaded, not yet serving.
pub struct App {
    /// The bound listener.
    listener: TcpListener,
    /// The full router.
    router: Router,
    /// The real address (port 0 resolved).
    local_addr: SocketAddr,
    /// `server.header_read_timeout_secs`.
    header_read_timeout: Duration,
    /// `server.shutdown_grace_secs`.
    shutdown_grace: Duration,
    /// The store, for test hooks.
    store: Arc<Store>,
}

impl App {
    /// Takes the state lock, loads (or seeds) state, binds the listener.
    pub async fn build(settings: Settings) -> Result<App, StartupError> {
        // Checked even when a state file exists: reset needs it later.
        let seed = Seed::load(&settings)?;
        let hasher = Arc::new(Hasher::new(&settings.argon2, settings.argon2_slots())?);
        let (file, loaded) = if settings.state.ephemeral {
            (None, None)
        } else {
            let path = &settings.state.path;
            // Checked first: the store would report the lock file missing instead.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(StartupError::StateDir {
                        path: path.clone(),
                        dir: dir.to_owned(),
                    });
                }
            }
            let (file, loaded) = StateFile::open(path)?;
            (Some(file), loaded)
        };
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .map_err(|source| StartupError::Bind {
                addr: settings.server.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.server.listen,
            source,
        })?;
        let state = match loaded {
            Some(state) => state,
            // A missing file means the seed state; the file appears at the first change.
            None => seed.state(&hasher).await?,
        };
        let store = Arc::new(Store::new(file, state));
        let store_handle = store.clone();
        let accounts =
            Arc::new(Accounts::new(store.clone(), hasher.clone(), &settings).with_seed(seed));
        let two_step = Arc::new(TwoStep::new(store.clone(), hasher.clone()));
        let registration = Arc::new(Registration::new(
            store.clone(),
            two_step.clone(),
            &settings.account,
        ));
        let metrics = Arc::new(Metrics::new(
            hasher.clone(),
            store_handle.clone(),
            accounts.clone(),
        ));
        let state = AppState {
            two_step,
            registration: registration.clone(),
            sandbox: Arc::new(Sandbox::new(store, accounts.clone(), registration.clone())),
            accounts,
            edge: Arc::new(EdgeConfig {
                body_limit_bytes: settings.server.body_limit_bytes,
                trust_forwarded_for: settings.server.trust_forwarded_for,
                api_key: settings.auth.api_key.clone(),
                control_token: settings.control.token.clone(),
                control_enabled: settings.control.enabled,
                loopback_only: settings.server.listen.ip().is_loopback(),
                request_timeout: Duration::from_secs(settings.server.request_timeout_secs),
            }),
            // The journal is part of the control plane: without it, nothing to record.
            journal: Arc::new(Journal::new(if settings.control.enabled {
                settings.control.journal_capacity as usize
            } else {
                0
            })),
            faults: Arc::new(Faults::new()),
            metrics,
        };
        let wire = Arc::new(Wire::new(&settings.api.version, settings.api.empty_success));
        Ok(App {
            listener,
            router: router(state, wire),
            local_addr,
            header_read_timeout: Duration::from_secs(settings.server.header_read_timeout_secs),
            shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            store: store_handle,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A clone of the full router (every layer included), for driving the server
    /// in-process with `tower::ServiceExt::oneshot`, as the hostile-input tests do.
    /// Requests sent this way carry no `ConnectInfo`, so the client address is unspecified.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Makes the state file's write path fail where `hook` says (tests only: the
    /// disk-fault tests drive every step of the write path through HTTP).
    #[doc(hidden)]
    pub fn inject_disk_faults(&self, hook: FaultHook) {
        self.store.set_fault_hook(hook);
    }

    /// Serves until `shutdown` completes, then stops accepting and gives in-flight
    /// requests up to `server.shutdown_grace_secs` to finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let router = self.router.clone();
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req)
            });
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        tracing::info!("shutting down: draining in-flight requests");
        if tokio::time::timeout(self.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period elapsed with requests still open");
        }
        Ok(())
    }
}
