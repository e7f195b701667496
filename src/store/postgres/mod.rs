//! The PostgreSQL state backend (`state.backend = "postgres"`): several servers
//! share one state (docs/behaviour.md#several-replicas). No HTTP, no argon2.
//!
//! The database holds what the state file holds, in the same JSON: a snapshot
//! (`seq`, the whole `State`), the batch log after it (`seq`, the batch's `Op`s),
//! and a head row with the last committed `seq`. Every server keeps the state in
//! memory as the file store does; the database orders and keeps the changes.
//!
//! - A batch ([`PgWriter`], on the store's writer thread): `BEGIN`, lock the head
//!   row (`SELECT … FOR UPDATE`, so writers through every server are serialized),
//!   catch the writer's copy up with batches committed since, evaluate the
//!   changes against it, insert the batch, bump the head, `COMMIT` with
//!   `synchronous_commit = on`. Only then is the change published and answered.
//!   Row locks rather than `SERIALIZABLE`, so no transaction ever fails for a
//!   serialization conflict and nothing needs retrying.
//! - Freshness ([`Database::refresh`], once per request that reads state): one
//!   query of the head `seq`; if another server committed more, fetch the missing
//!   batches and apply them before the request reads. A change acknowledged by
//!   any server (committed before its 2xx) is thus seen by the next request here.
//! - Counters ([`counters`]): the login limiter and the PIN-guess budget, one row
//!   per key, updated by single statements.
//!
//! Every thousandth batch also rewrites the snapshot and drops the batches before
//! the previous one, so the log stays bounded and a server far behind (or one
//! starting) reads the snapshot and the batches after it.

mod counters;
mod schema;
mod writer;

use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio_postgres::config::Host;
use tokio_postgres::{Client, NoTls};

use super::ops::Op;
use super::state::State;
use crate::readiness::ReadinessFlag;
pub use writer::PgWriter;

/// Batches between two snapshots.
const SNAPSHOT_EVERY: u64 = 1000;

/// How long one connection attempt may take once the server runs: a request
/// waits at most this long to learn the database is gone.
const RUNTIME_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the background probe checks the database (and catches up while idle).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why the database could not be used at start-up. Names the host and database,
/// never the password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// `state.postgres_url` cannot be parsed (a configuration error).
    #[error("state.postgres_url: {0}")]
    BadUrl(String),
    /// No connection within `state.connect_timeout_secs`.
    #[error("cannot reach PostgreSQL database {database} on {host} within {secs} s: {reason}")]
    Unreachable {
        /// Host(s) and port.
        host: String,
        /// Database name.
        database: String,
        /// Seconds tried.
        secs: u64,
        /// The last error (from the driver; it never includes the password).
        reason: String,
    },
    /// Reached, but its content cannot be used (a newer schema, bad state).
    #[error("PostgreSQL database {database} on {host}: {reason}")]
    Unusable {
        /// Host(s) and port.
        host: String,
        /// Database name.
        database: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where the database is: the parsed `state.postgres_url` and its printable name.
#[derive(Clone)]
pub struct Target {
    /// Connection settings (the password among them: never printed).
    config: tokio_postgres::Config,
    /// `host:port`, for messages.
    host: String,
    /// Database name, for messages.
    database: String,
}

impl Target {
    /// Why the database is out of reach, naming host and database, never the password.
    fn unreachable(&self, e: &tokio_postgres::Error) -> String {
        format!(
            "database {} on {} unreachable: {}",
            self.database,
            self.host,
            error_text(e)
        )
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({} on {})", self.database, self.host)
    }
}

impl Target {
    /// Parses a `postgres://user:password@host:port/database` URL (or a key=value
    /// string). The error never repeats the URL, which may hold a password.
    pub fn parse(url: &str) -> Result<Target, String> {
        let config = tokio_postgres::Config::from_str(url).map_err(|_| {
            "not a valid PostgreSQL URL (postgres://user:password@host:port/database)".to_owned()
        })?;
        if config.get_hosts().is_empty() {
            return Err("names no host (postgres://user:password@host:port/database)".into());
        }
        let ports = config.get_ports();
        let host = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match h {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(dir) => format!("{}:{port}", dir.display()),
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        let database = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
            .to_owned();
        Ok(Target {
            config,
            host,
            database,
        })
    }

    /// `host:port`, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The database's name, for messages.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// One connection: `synchronous_commit = on` for the session, so a commit is
    /// on the database's disk before it returns. Its I/O task runs on the
    /// current runtime.
    async fn connect(&self, timeout: Duration) -> Result<Client, tokio_postgres::Error> {
        let mut config = self.config.clone();
        config
            .connect_timeout(timeout)
            .application_name("wa-twostep");
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "database connection ended");
            }
        });
        client.batch_execute("SET synchronous_commit = on").await?;
        Ok(client)
    }
}

/// Reads batches `(after, ..]` in order as `(seq, ops)`; a gap (they were
/// compacted away) comes back as the snapshot, as one batch replacing the state.
async fn batches_after(client: &Client, after: u64) -> Result<Vec<(u64, Vec<Op>)>, String> {
    let rows = client
        .query_typed(
            "SELECT seq, ops FROM wa_twostep_batches WHERE seq > $1 ORDER BY seq",
            &[(&(after as i64), tokio_postgres::types::Type::INT8)],
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(rows.len());
    let first = rows.first().map(|r| r.get::<_, i64>(0) as u64);
    if first.is_some_and(|seq| seq != after + 1) {
        let (seq, state) = snapshot(client).await?;
        if seq <= after {
            return Err(format!("batch log has a gap after {after}"));
        }
        out.push((
            seq,
            vec![Op::Replace {
                state: Box::new(state),
            }],
        ));
    }
    let base = out.first().map_or(after, |(seq, _)| *seq);
    for row in rows {
        let seq = row.get::<_, i64>(0) as u64;
        if seq <= base {
            continue;
        }
        let text: &str = row.get(1);
        let ops: Vec<Op> = serde_json::from_str(text)
            .map_err(|e| format!("batch {seq} cannot be read by this build: {e}"))?;
        out.push((seq, ops));
    }
    Ok(out)
}

/// The snapshot row: `(seq, state)`.
async fn snapshot(client: &Client) -> Result<(u64, State), String> {
    let row = client
        .query_opt(
            "SELECT seq, state FROM wa_twostep_snapshot WHERE id = 1",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no snapshot row")?;
    let seq = row.get::<_, i64>(0) as u64;
    let text: &str = row.get(1);
    let mut state =
        State::from_current_bytes(text.as_bytes()).map_err(|e| format!("snapshot: {e}"))?;
    state.seq = seq;
    Ok((seq, state))
}

/// Applies `batches` (from [`batches_after`]) to `state`, in order.
/// Whether `e` says the connection itself is gone, so the same statement may be
/// tried once more on a new one: a transport error, or the server's own word that
/// it ended the session (SQLSTATE class 57P, e.g. 57P01 when it was shut down;
/// class 08, connection exception). A connection that was idle while the
/// database restarted reads that FATAL message only when it is next used.
pub(super) fn connection_lost(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("57P") || code.starts_with("08")
        }
        None => e.as_db_error().is_none(),
    }
}

fn apply_batches(state: &mut State, batches: &[(u64, Vec<Op>)]) {
    for (seq, ops) in batches {
        if *seq > state.seq {
            for op in ops {
                state.apply(op);
            }
            state.seq = *seq;
        }
    }
}

/// The shared database as the request side sees it: one connection (queries from
/// concurrent requests are pipelined on it), reconnected when lost.
#[derive(Debug)]
pub struct Database {
    /// Where it is.
    target: Target,
    /// The open connection, if any.
    client: Mutex<Option<Arc<Client>>>,
    /// Held while connecting, so a lost connection is replaced once, not per request.
    connecting: tokio::sync::Mutex<()>,
    /// `/__sandbox/health` turns 503 while the database cannot be reached.
    readiness: ReadinessFlag,
    /// Random per process: marks this server's batches, so a commit whose answer
    /// was lost can be checked for.
    origin: String,
    /// A connection of its own for the moving-window budget, whose take needs a
    /// transaction of two statements: the shared request connection pipelines
    /// other requests' statements, which must not land inside it.
    budget: tokio::sync::Mutex<Option<Client>>,
}

impl Database {
    /// Connects (retrying for `connect_timeout`), applies migrations, and returns
    /// the database with the state it holds (`None` before the first start).
    pub async fn open(
        url: &str,
        connect_timeout: Duration,
        readiness: ReadinessFlag,
    ) -> Result<(Arc<Database>, Option<State>), PgError> {
        let target = Target::parse(url).map_err(PgError::BadUrl)?;
        let unusable = |reason: String| PgError::Unusable {
            host: target.host.clone(),
            database: target.database.clone(),
            reason,
        };
        let deadline = Instant::now() + connect_timeout;
        let mut client = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = left.clamp(Duration::from_millis(100), Duration::from_secs(5));
            match target.connect(attempt).await {
                Ok(client) => break client,
                Err(e) if Instant::now() >= deadline => {
                    return Err(PgError::Unreachable {
                        host: target.host.clone(),
                        database: target.database.clone(),
                        secs: connect_timeout.as_secs(),
                        reason: error_text(&e),
                    })
                }
                Err(e) => {
                    tracing::warn!(host = %target.host, database = %target.database, error = %error_text(&e), "database not reachable yet; retrying");
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(left.min(Duration::from_millis(250))).await;
                }
            }
        };
        schema::migrate(&mut client).await.map_err(unusable)?;
        let state = match client
            .query_opt("SELECT 1 FROM wa_twostep_snapshot WHERE id = 1", &[])
            .await
            .map_err(|e| unusable(error_text(&e)))?
        {
            None => None,
            Some(_) => {
                let (_, mut state) = snapshot(&client).await.map_err(unusable)?;
                let batches = batches_after(&client, state.seq).await.map_err(unusable)?;
                apply_batches(&mut state, &batches);
                Some(state)
            }
        };
        let mut origin = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut origin);
        let db = Database {
            target,
            client: Mutex::new(Some(Arc::new(client))),
            connecting: tokio::sync::Mutex::new(()),
            readiness,
            origin: origin.iter().map(|b| format!("{b:02x}")).collect(),
            budget: tokio::sync::Mutex::new(None),
        };
        Ok((Arc::new(db), state))
    }

    /// Stores `seed` as the state unless another server did first; returns the
    /// state the database holds then.
    pub async fn seed(&self, seed: &State) -> Result<State, PgError> {
        let unusable = |reason: String| PgError::Unusable {
            host: self.target.host.clone(),
            database: self.target.database.clone(),
            reason,
        };
        let client = self.client().await.map_err(unusable)?;
        let text = serde_json::to_string(seed).map_err(|e| unusable(e.to_string()))?;
        client
            .execute(
                "INSERT INTO wa_twostep_snapshot (id, seq, state) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
                &[&text],
            )
            .await
            .map_err(|e| unusable(error_text(&e)))?;
        let (_, mut state) = snapshot(&client).await.map_err(unusable)?;
        let batches = batches_after(&client, state.seq).await.map_err(unusable)?;
        apply_batches(&mut state, &batches);
        Ok(state)
    }

    /// The writer side: its own connection, on the store's writer thread.
    pub fn writer(&self) -> PgWriter {
        PgWriter::new(
            self.target.clone(),
            self.readiness.clone(),
            self.origin.clone(),
        )
    }

    /// The request side's connection, connecting if there is none.
    async fn client(&self) -> Result<Arc<Client>, String> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.current() {
            return Ok(c);
        }
        match self.target.connect(RUNTIME_CONNECT_TIMEOUT).await {
            Ok(c) => {
                let c = Arc::new(c);
                *self.client.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.clone());
                Ok(c)
            }
            Err(e) => Err(self.unreachable(&e)),
        }
    }

    /// The open connection, unless it was lost.
    fn current(&self) -> Option<Arc<Client>> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|c| c.is_closed()) {
            *slot = None;
        }
        slot.clone()
    }

    /// Turns health to 503 and says why (host and database, never the password).
    fn unreachable(&self, e: &tokio_postgres::Error) -> String {
        let why = self.target.unreachable(e);
        self.readiness.down(why.clone());
        why
    }

    /// Runs `query` on the request side's connection; a failure turns health to
    /// 503 and drops the connection if it was lost.
    /// A connection the database dropped (it restarted) may not look closed
    /// until it is used: then the query is tried once more on a new one.
    async fn with_client<T, F, Fut>(&self, query: F) -> Result<T, String>
    where
        F: Fn(Arc<Client>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let client = self.client().await?;
        match query(client.clone()).await {
            Ok(v) => return Ok(v),
            Err(e) if !connection_lost(&e) => return Err(self.unreachable(&e)),
            Err(_) => self.forget(&client),
        }
        let client = self.client().await?;
        query(client).await.map_err(|e| self.unreachable(&e))
    }

    /// Runs `tx` in a transaction on the budget's own connection (connected on
    /// first use, replaced when lost), one at a time per server.
    async fn in_budget_transaction<T>(
        &self,
        tx: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, String> {
        let mut slot = self.budget.lock().await;
        if slot.as_ref().is_some_and(|c| c.is_closed()) {
            *slot = None;
        }
        if slot.is_none() {
            match self.target.connect(RUNTIME_CONNECT_TIMEOUT).await {
                Ok(c) => *slot = Some(c),
                Err(e) => return Err(self.unreachable(&e)),
            }
        }
        let client = slot.as_mut().ok_or("no database connection")?;
        let result = async {
            let transaction = client.transaction().await?;
            let value = tx(&transaction).await?;
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(value)
        }
        .await;
        result.map_err(|e| {
            if connection_lost(&e) {
                *slot = None;
            }
            self.unreachable(&e)
        })
    }

    /// Drops `client` as the request side's connection (unless already replaced).
    fn forget(&self, client: &Arc<Client>) {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
            *slot = None;
        }
    }

    /// Publishes every batch committed before this call into `live`.
    pub async fn refresh(&self, live: &RwLock<State>) -> Result<(), String> {
        let head = self
            .with_client(|c| async move {
                let row = c
                    .query_typed("SELECT seq FROM wa_twostep_head WHERE id = 1", &[])
                    .await?;
                Ok(row.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
            })
            .await?;
        let have = live.read().unwrap_or_else(|e| e.into_inner()).seq;
        if head > have {
            let client = self.client().await?;
            let batches = batches_after(&client, have).await.inspect_err(|why| {
                self.readiness
                    .down(format!("database {}: {why}", self.target.database));
            })?;
            let mut live = live.write().unwrap_or_else(|e| e.into_inner());
            apply_batches(&mut live, &batches);
        }
        self.readiness.up();
        Ok(())
    }

    /// Every second while the store lives: keeps health truthful (503 within a
    /// second of losing the database, 200 again once it is back) and the state
    /// fresh while no request comes.
    pub fn spawn_probe(self: &Arc<Self>, live: Weak<RwLock<State>>) {
        let db = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let (Some(db), Some(live)) = (db.upgrade(), live.upgrade()) else {
                    return;
                };
                if let Err(why) = db.refresh(&live).await {
                    tracing::debug!(reason = %why, "database probe failed");
                }
            }
        });
    }
}

/// The driver's error with its cause (the top level alone often says only "db error").
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}
