//! Wiring: settings → store, hasher, services, router → a bound listener; then
//! the accept loop with header-read and write timeouts, a connection cap below the
//! open-file limit, and a bounded graceful drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::api::cloud::version::Window;
use crate::api::cloud::CloudConfig;
use crate::api::control::faults::Faults;
use crate::api::control::journal::Journal;
use crate::api::envelope::Wire;
use crate::api::{router, AppState, EdgeConfig};
use crate::config::Settings;
use crate::domain::cloud_tokens::CloudTokens;
use crate::domain::control::Control;
use crate::domain::hasher::{HashError, Hasher};
use crate::domain::numbers::Numbers;
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
    /// `server.write_timeout_secs`: a response write that makes no progress this
    /// long (a client that does not read) closes the connection.
    write_timeout: Duration,
    /// Connections served at once (`server.max_connections`, or derived from the
    /// open-file limit); more wait in the kernel's listen backlog, costing no fd.
    max_connections: usize,
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
            let (file, loaded) = StateFile::open(path, &seed.upgrade())?;
            (Some(file), loaded)
        };
        let max_connections = connection_cap(settings.server.max_connections);
        let listener = listen(settings.server.listen).map_err(|source| StartupError::Bind {
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
            hasher.clone(),
            &settings,
        ));
        let numbers = Arc::new(Numbers::new(store.clone()));
        let cloud_tokens = Arc::new(CloudTokens::new(
            store.clone(),
            &settings.cloud.access_token,
        ));
        // The journal is part of the control plane: without it, nothing to record.
        let journal = Arc::new(Journal::new(if settings.control.enabled {
            settings.control.journal_capacity as usize
        } else {
            0
        }));
        let faults = Arc::new(Faults::new());
        let control = Control::new(
            store.clone(),
            users.clone(),
            registration.clone(),
            cloud_tokens.clone(),
        )
        .on_reset(faults.clone())
        .on_reset(journal.clone());
        let state = AppState {
            users,
            two_step,
            control: Arc::new(control),
            registration,
            numbers,
            cloud_tokens,
            edge: Arc::new(EdgeConfig {
                body_limit_bytes: settings.server.body_limit_bytes,
                trust_forwarded_for: settings.server.trust_forwarded_for,
                api_key: settings.auth.api_key.clone(),
                control_token: settings.control.token.clone(),
                control_enabled: settings.control.enabled,
                loopback_only: settings.server.listen.ip().is_loopback(),
                request_timeout: Duration::from_secs(settings.server.request_timeout_secs),
                cloud: CloudConfig {
                    enabled: settings.cloud.enabled,
                    waba_id: settings.cloud.waba_id.clone(),
                    window: Window::of(&settings.cloud),
                },
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
            write_timeout: Duration::from_secs(settings.server.write_timeout_secs),
            max_connections,
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
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let mut accept_errors = RateLimitedWarning::new(Duration::from_secs(10));
        tokio::pin!(shutdown);
        loop {
            // A free slot first, then accept: past the cap, new connections wait in the
            // listen backlog (no fd, no memory here) instead of starving accepted ones.
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of
                        // spinning, and say so at most once per period.
                        accept_errors.warn(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let mut stream = TimeoutStream::new(stream);
            stream.set_write_timeout(Some(self.write_timeout));
            let router = self.router.clone();
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req)
            });
            let conn = http.serve_connection(TokioIo::new(Box::pin(stream)), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(slot);
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

/// Send buffer of every connection, in bytes (the kernel doubles it for overhead).
/// Responses here are small; the largest (the OpenAPI document, a full journal)
/// still fit a few times over.
const SEND_BUFFER: u32 = 32 * 1024;

/// Binds `addr` with a listen backlog of 1024 (the OS default of 128 timed out
/// 17% of a 1,100-connect burst). The kernel caps it at `net.core.somaxconn`.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's `TcpListener::bind` does: a restart can rebind at once.
    socket.set_reuseaddr(true)?;
    // Accepted connections inherit a fixed send buffer instead of one the kernel
    // grows to megabytes: a client that never reads then stalls our writes after
    // SEND_BUFFER bytes of responses, where the write timeout cuts it off, rather
    // than making us serve thousands of pipelined requests into kernel memory.
    socket.set_send_buffer_size(SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Raises the soft open-file limit to the hard one (the soft default of 1024 is
/// low for a server) and derives the connection cap from it, keeping a reserve
/// of descriptors for the state files, the log and the runtime. `configured` > 0
/// wins, but never above what the limit allows.
fn connection_cap(configured: u32) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let reserve = (limit / 8).clamp(16, 256);
    // An "unlimited" hard limit must not overflow the semaphore's permit count.
    let allowed = limit.saturating_sub(reserve).clamp(1, 1 << 20);
    match configured {
        0 => allowed,
        n => (n as usize).min(allowed),
    }
}

/// A warning printed at most once per `period`, with the count of the ones held back.
struct RateLimitedWarning {
    /// Minimum time between two lines.
    period: Duration,
    /// When the last line was printed.
    last: Option<std::time::Instant>,
    /// Occurrences since then.
    suppressed: u64,
}

impl RateLimitedWarning {
    fn new(period: Duration) -> RateLimitedWarning {
        RateLimitedWarning {
            period,
            last: None,
            suppressed: 0,
        }
    }

    fn warn(&mut self, error: &std::io::Error) {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.period)
        {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(error = %error, suppressed = self.suppressed, "accept failed");
        self.last = Some(now);
        self.suppressed = 0;
    }
}
