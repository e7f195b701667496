//! Wiring: settings → store, hasher, services, router → a bound listener; then
//! the accept loop with header-read and write timeouts, a connection cap below the
//! open-file limit, and a bounded graceful drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::api::cloud::version::Window;
use crate::api::cloud::CloudConfig;
use crate::api::control::faults::Faults;
use crate::api::control::journal::Journal;
use crate::api::envelope::Wire;
use crate::api::manager::webhooks::Webhooks;
use crate::api::public_url::PublicUrl;
use crate::api::{router, AppState, EdgeConfig, Services};
use crate::config::Settings;
use crate::domain::cloud_tokens::CloudTokens;
use crate::domain::control::Control;
use crate::domain::hasher::{HashError, Hasher};
use crate::domain::manager::outbox::Outbox;
use crate::domain::manager::Manager;
use crate::domain::numbers::Numbers;
use crate::domain::registration::Registration;
use crate::domain::seed::{Seed, SeedError};
use crate::domain::shared::SharedState;
use crate::domain::two_step::TwoStep;
use crate::domain::users::Users;
use crate::metrics::Metrics;
use crate::readiness::{Cause, Readiness};
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
    /// The PostgreSQL database could not be reached in time or cannot be used.
    /// The message names host and database, never the password.
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Database(#[from] crate::store::postgres::PgError),
}

impl StartupError {
    /// True for configuration mistakes (exit status 2), false for other failures (1).
    pub fn is_configuration(&self) -> bool {
        #[cfg(feature = "postgres")]
        if matches!(
            self,
            StartupError::Database(crate::store::postgres::PgError::BadUrl(_))
        ) {
            return true;
        }
        matches!(self, StartupError::Seed(_))
    }
}

/// A built server: bound, with state loaded, not yet serving.
pub struct App {
    /// The bound listener.
    listener: TcpListener,
    /// The full router.
    router: crate::api::App,
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
    /// Whether the server can serve; the drain at shutdown sets it.
    readiness: Arc<Readiness>,
}

impl App {
    /// Takes the state lock, loads (or seeds) state, binds the listener.
    pub async fn build(settings: Settings) -> Result<App, StartupError> {
        // Checked even when a state file exists: reset needs it later.
        let seed = Seed::load(&settings)?;
        let hasher = Arc::new(Hasher::new(&settings.argon2, settings.argon2_slots())?);
        let readiness = Readiness::new();
        #[cfg(feature = "postgres")]
        let database = match settings.state.backend {
            crate::config::Backend::Postgres => Some(
                crate::store::postgres::Database::open(
                    settings.state.postgres_url.expose(),
                    Duration::from_secs(settings.state.connect_timeout_secs),
                    readiness.flag(Cause::StateBackend),
                )
                .await?,
            ),
            crate::config::Backend::File => None,
        };
        #[cfg(feature = "postgres")]
        let shared = database.is_some();
        #[cfg(not(feature = "postgres"))]
        let shared = false;
        let (file, loaded) = if settings.state.ephemeral || shared {
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
        #[cfg(feature = "postgres")]
        let store = match database {
            Some((db, loaded)) => {
                let state = match loaded {
                    Some(state) => state,
                    // A fresh database gets the seed, unless another server seeded it first.
                    None => db.seed(&seed.state(&hasher).await?).await?,
                };
                Arc::new(Store::shared(db, state))
            }
            None => Arc::new(Store::new(file, file_state(loaded, &seed, &hasher).await?)),
        };
        #[cfg(not(feature = "postgres"))]
        let store = Arc::new(Store::new(file, file_state(loaded, &seed, &hasher).await?));
        let metrics = Arc::new(Metrics::new(
            hasher.counters().clone(),
            store.stats().clone(),
        ));
        let users = Arc::new(Users::new(store.clone(), hasher.clone(), &settings).with_seed(seed));
        let webhooks = Webhooks::new(
            &settings.cloud.webhook_url,
            &settings.cloud.app_secret,
            &settings.cloud.waba_id,
        );
        let two_step =
            Arc::new(TwoStep::new(store.clone(), hasher.clone()).with_events(webhooks.clone()));
        let registration = Arc::new(Registration::new(
            store.clone(),
            two_step.clone(),
            hasher.clone(),
            &settings,
        ));
        let numbers = Arc::new(Numbers::new(store.clone()));
        let outbox = Arc::new(Outbox::new(settings.manager.outbox_capacity as usize));
        let manager = Arc::new(Manager::new(
            store.clone(),
            two_step.clone(),
            registration.clone(),
            outbox.clone(),
            &settings.manager,
            webhooks.clone(),
        ));
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
        .on_reset(journal.clone())
        .on_reset(outbox);
        let state = AppState::new(Services {
            users,
            two_step,
            control: Arc::new(control),
            registration,
            numbers,
            cloud_tokens,
            manager,
            webhooks,
            edge: Arc::new(EdgeConfig {
                body_limit_bytes: settings.server.body_limit_bytes,
                trust_forwarded_for: settings.server.trust_forwarded_for,
                proxy_hops: settings.server.proxy_hops,
                public_url: PublicUrl::new(
                    &settings.server.public_url,
                    settings.server.trust_forwarded_for,
                    settings.server.proxy_hops,
                    local_addr,
                ),
                api_key: settings.auth.api_key.clone(),
                control_token: settings.control.token.clone(),
                control_enabled: settings.control.enabled,
                loopback_only: settings.server.listen.ip().is_loopback(),
                request_timeout: Duration::from_secs(settings.server.request_timeout_secs),
                smtp_addr: crate::config::smtp_addr(&settings.manager.smtp_url).map(str::to_owned),
                cloud: CloudConfig {
                    enabled: settings.cloud.enabled,
                    waba_id: settings.cloud.waba_id.clone(),
                    window: Window::of(&settings.cloud),
                },
            }),
            journal,
            faults,
            metrics,
            readiness: readiness.clone(),
            shared: SharedState::new(store.clone()),
        });
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
            readiness,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A clone of the full router (every layer included), for driving the server
    /// in-process with `tower::ServiceExt::oneshot`, as the hostile-input tests do.
    /// Requests sent this way carry no `ConnectInfo`, so the client address is unspecified.
    pub fn router(&self) -> crate::api::App {
        self.router.clone()
    }

    /// The server's readiness, as `/__sandbox/health` reports it. A state backend
    /// that can become unreachable reports through
    /// `readiness().flag(Cause::StateBackend)`; tests use it the same way.
    pub fn readiness(&self) -> Arc<Readiness> {
        self.readiness.clone()
    }

    /// Makes the state file's write path fail where `hook` says (tests only: the
    /// disk write-failure tests drive every step of the write path through HTTP).
    #[doc(hidden)]
    pub fn inject_write_failures(&self, hook: FailHook) {
        self.store.set_fail_hook(hook);
    }

    /// Serves until `shutdown` completes, then drains: stops accepting, turns
    /// `/__sandbox/health` to 503, and gives in-flight requests up to
    /// `server.shutdown_grace_secs` to finish.
    ///
    /// While any request is in flight, connections already open stay open, so a
    /// load balancer probing health on its keep-alive connection learns of the
    /// drain (503) instead of a reset; every response then carries
    /// `Connection: close`. Once none is in flight, idle connections are closed
    /// and the rest awaited, so a server with nothing to finish exits at once.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let in_flight = Arc::new(InFlight::default());
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
            let in_flight = in_flight.clone();
            let readiness = self.readiness.clone();
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let entered = in_flight.enter();
                let response = router.clone().oneshot(req.map(axum::body::Body::new));
                let readiness = readiness.clone();
                async move {
                    let mut response = response.await?;
                    if readiness.is_draining() {
                        // Tells the client to reconnect elsewhere; hyper closes the
                        // connection once this response is written.
                        response.headers_mut().insert(
                            axum::http::header::CONNECTION,
                            axum::http::HeaderValue::from_static("close"),
                        );
                    }
                    drop(entered);
                    Ok::<_, std::convert::Infallible>(response)
                }
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
        // Before the log line: a test (or an operator) that reads it may probe at once.
        self.readiness.flag(Cause::Draining).down("shutting down");
        tracing::info!("shutting down: draining in-flight requests");
        let deadline = tokio::time::Instant::now() + self.shutdown_grace;
        let drained = async {
            in_flight.idle().await;
            graceful.shutdown().await;
        };
        if tokio::time::timeout_at(deadline, drained).await.is_err() {
            tracing::warn!("shutdown grace period elapsed with requests still open");
        }
        Ok(())
    }
}

/// The state a file backend starts from: what the file held, or the seed (the
/// file appears at the first change).
async fn file_state(
    loaded: Option<crate::store::State>,
    seed: &Seed,
    hasher: &Arc<Hasher>,
) -> Result<crate::store::State, StartupError> {
    match loaded {
        Some(state) => Ok(state),
        None => Ok(seed.state(hasher).await?),
    }
}

/// Requests being served (head received, response not yet produced), so the
/// drain knows when nothing is left to finish.
#[derive(Debug, Default)]
struct InFlight {
    /// Requests in flight.
    count: AtomicUsize,
    /// Woken when `count` drops to zero.
    idle: Notify,
}

/// One request in flight; dropping it (the response is ready, or the request was
/// abandoned) counts it out.
struct Entered(Arc<InFlight>);

impl InFlight {
    /// Counts a request in.
    fn enter(self: &Arc<Self>) -> Entered {
        self.count.fetch_add(1, Ordering::AcqRel);
        Entered(self.clone())
    }

    /// Completes once no request is in flight.
    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a drop to zero in between is not missed.
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
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
