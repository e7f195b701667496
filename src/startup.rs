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

use crate::api::control::faults::Faults;
use crate::api::control::journal::Journal;
use crate::api::envelope::Wire;
use crate::api::{router, AppState, EdgeConfig};
use crate::config::Settings;
use crate::domain::control::Control;
use crate::domain::hasher::{HashError, Hasher};
use crate::domain::registration::Registration;
use crate::domain::seed::{Seed, SeedError};
use crate::domain::two_step::TwoStep;
use crate::domain::users::Users;
use crate::metrics::Metrics;
use crate::store::{FailHook, OpenError, StateFile, Store};

/// A start-up failure (the binary exits 1). Messages name the file or address.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The state file is locked, unreadable, corrupt or of an unknown schema.
    #[error(transparent)]
    State(#[from] OpenError),
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
            let (file, loaded) = StateFile::open(&settings.state.path)?;
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
        let metrics = Arc::new(Metrics::new(
            hasher.counters().clone(),
            store.stats().clone(),
        ));
        let users = Arc::new(Users::new(store.clone(), hasher.clone(), &settings).with_seed(seed));
        let two_step = Arc::new(TwoStep::new(store.clone(), hasher.clone()));
        let registration = Arc::new(Registration::new(
            store.clone(),
            two_step.clone(),
            &settings.account,
        ));
        // The journal is part of the control plane: without it, nothing to record.
        let journal = Arc::new(Journal::new(if settings.control.enabled {
            settings.control.journal_capacity as usize
        } else {
            0
        }));
        let faults = Arc::new(Faults::new());
        let control = Control::new(store.clone(), users.clone(), registration.clone())
            .on_reset(faults.clone())
            .on_reset(journal.clone());
        let state = AppState {
            users,
            two_step,
            control: Arc::new(control),
            registration,
            edge: Arc::new(EdgeConfig {
                body_limit_bytes: settings.server.body_limit_bytes,
                trust_forwarded_for: settings.server.trust_forwarded_for,
                api_key: settings.auth.api_key.clone(),
                control_token: settings.control.token.clone(),
                control_enabled: settings.control.enabled,
                request_timeout: Duration::from_secs(settings.server.request_timeout_secs),
            }),
            journal,
            faults,
            metrics,
        };
        let wire = Arc::new(Wire::new(&settings.api.version, settings.api.empty_success));
        Ok(App {
            listener,
            router: router(state, wire),
            local_addr,
            header_read_timeout: Duration::from_secs(settings.server.header_read_timeout_secs),
            shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            store,
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
    /// disk write-failure tests drive every step of the write path through HTTP).
    #[doc(hidden)]
    pub fn inject_write_failures(&self, hook: FailHook) {
        self.store.set_fail_hook(hook);
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
