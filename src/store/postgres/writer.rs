//! The writer side of the PostgreSQL backend: one connection, used only by the
//! store's writer thread, driven by a small runtime of its own (that thread is
//! not async). A batch is one transaction: [`PgWriter::begin`] locks the head row
//! and catches up, [`PgWriter::commit`] writes the batch and commits.

use std::time::{Duration, Instant};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::{batches_after, Target, RUNTIME_CONNECT_TIMEOUT, SNAPSHOT_EVERY};
use crate::readiness::ReadinessFlag;
use crate::store::ops::Op;
use crate::store::state::State;
use crate::store::WriteError;

/// How long a commit whose answer was lost is checked for before it is
/// reported as failed.
const RESOLVE_FOR: Duration = Duration::from_secs(5);

/// The writer thread's connection.
pub struct PgWriter {
    /// Where the database is.
    target: Target,
    /// Health turns 503 while the database cannot be reached.
    readiness: ReadinessFlag,
    /// Marks this server's batches (with their `seq`).
    origin: String,
    /// Made on the writer thread at first use.
    runtime: Option<tokio::runtime::Runtime>,
    /// The connection, if open.
    client: Option<Client>,
}

impl std::fmt::Debug for PgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWriter")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PgWriter {
    /// A writer that connects at its first batch.
    pub(super) fn new(target: Target, readiness: ReadinessFlag, origin: String) -> PgWriter {
        PgWriter {
            target,
            readiness,
            origin,
            runtime: None,
            client: None,
        }
    }

    fn unreachable(&mut self, e: &tokio_postgres::Error) -> String {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        let why = self.target.unreachable(e);
        self.readiness.down(why.clone());
        why
    }

    /// The runtime and an open connection.
    fn connection(&mut self) -> Result<(&tokio::runtime::Runtime, &Client), String> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the database runtime: {e}"))?;
            self.runtime = Some(rt);
        }
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        if self.client.is_none() {
            let rt = self.runtime.as_ref().ok_or("no runtime")?;
            match rt.block_on(self.target.connect(RUNTIME_CONNECT_TIMEOUT)) {
                Ok(c) => self.client = Some(c),
                Err(e) => return Err(self.unreachable(&e)),
            }
        }
        match (&self.runtime, &self.client) {
            (Some(rt), Some(c)) => Ok((rt, c)),
            _ => Err("no database connection".into()),
        }
    }

    /// Opens the batch's transaction, locks the head row, and applies to `shadow`
    /// the batches committed since it was last caught up; returns them.
    pub fn begin(&mut self, shadow: &mut State) -> Result<Vec<(u64, Vec<Op>)>, String> {
        let have = shadow.seq;
        let mut tries = 0;
        let head = loop {
            tries += 1;
            let (rt, client) = self.connection()?;
            let result = rt.block_on(async {
                // Pipelined: both go out at once, one round trip. A failed BEGIN
                // fails the lock too; a failed lock leaves a transaction the error
                // path below rolls back.
                let (began, head) = tokio::join!(
                    client.batch_execute("BEGIN"),
                    client.query_typed(
                        "SELECT seq FROM wa_twostep_head WHERE id = 1 FOR UPDATE",
                        &[],
                    )
                );
                began?;
                let head: i64 = head?.first().map_or(0, |r| r.get(0));
                Ok::<_, tokio_postgres::Error>(head as u64)
            });
            match result {
                Ok(head) => break head,
                // A connection the database dropped (it restarted) may not look
                // closed until used, and this one is polled only during a batch:
                // its first use reads the shutdown notice. One more try, on a new
                // connection (nothing of the batch was written yet).
                Err(e) if tries == 1 && super::connection_lost(&e) => self.client = None,
                Err(e) => {
                    let why = self.unreachable(&e);
                    self.rollback();
                    return Err(why);
                }
            }
        };
        let mut caught_up = Vec::new();
        if head > have {
            let (rt, client) = self.connection()?;
            match rt.block_on(batches_after(client, have)) {
                Ok(batches) => caught_up = batches,
                Err(why) => {
                    self.rollback();
                    self.readiness
                        .down(format!("database {}: {why}", self.target.database));
                    return Err(why);
                }
            }
            super::apply_batches(shadow, &caught_up);
        }
        self.readiness.up();
        Ok(caught_up)
    }

    /// Ends the open transaction without writing (the batch changed nothing).
    pub fn rollback(&mut self) {
        if let (Some(rt), Some(client)) = (&self.runtime, &self.client) {
            if rt.block_on(client.batch_execute("ROLLBACK")).is_err() {
                self.client = None;
            }
        }
    }

    /// Writes the batch `ops` as `next.seq` (the state after it), and commits.
    /// A commit whose answer was lost is looked for before it counts as failed.
    pub fn commit(&mut self, next: &State, ops: &[Op]) -> Result<(), WriteError> {
        let seq = next.seq as i64;
        let ops_text =
            serde_json::to_string(ops).map_err(|e| WriteError::Io(std::io::Error::other(e)))?;
        let snapshot = if next.seq.is_multiple_of(SNAPSHOT_EVERY) {
            Some(
                serde_json::to_string(next)
                    .map_err(|e| WriteError::Io(std::io::Error::other(e)))?,
            )
        } else {
            None
        };
        let origin = self.origin.clone();
        let (rt, client) = self.connection().map_err(WriteError::Unreachable)?;
        if snapshot.is_none() {
            // The batch, the head and COMMIT pipelined: one round trip. A database
            // error in either write aborts the transaction, and COMMIT then rolls it
            // back; a connection lost on the way leaves the outcome open, so it is
            // looked up, as for a lost answer to COMMIT.
            let batch: [(&(dyn ToSql + Sync), Type); 3] = [
                (&seq, Type::INT8),
                (&origin, Type::TEXT),
                (&ops_text, Type::TEXT),
            ];
            let head: [(&(dyn ToSql + Sync), Type); 1] = [(&seq, Type::INT8)];
            let (inserted, moved, committed) = rt.block_on(async {
                tokio::join!(
                    client.query_typed(
                        "INSERT INTO wa_twostep_batches (seq, origin, ops) VALUES ($1, $2, $3)",
                        &batch,
                    ),
                    client.query_typed("UPDATE wa_twostep_head SET seq = $1 WHERE id = 1", &head),
                    client.batch_execute("COMMIT"),
                )
            });
            let refused = [inserted.err(), moved.err()].into_iter().flatten().next();
            return match (refused, committed) {
                (None, Ok(())) => Ok(()),
                (Some(e), _) if e.as_db_error().is_some() => {
                    Err(WriteError::Unreachable(self.unreachable(&e)))
                }
                (Some(e), _) | (None, Err(e)) => self.lost_answer(&e, seq, &origin),
            };
        }
        let written = rt.block_on(async {
            client
                .query_typed(
                    "INSERT INTO wa_twostep_batches (seq, origin, ops) VALUES ($1, $2, $3)",
                    &[
                        (&seq, Type::INT8),
                        (&origin, Type::TEXT),
                        (&ops_text, Type::TEXT),
                    ],
                )
                .await?;
            client
                .query_typed(
                    "UPDATE wa_twostep_head SET seq = $1 WHERE id = 1",
                    &[(&seq, Type::INT8)],
                )
                .await?;
            if let Some(state) = &snapshot {
                // The previous snapshot's batches go: a reader that read it is
                // still served by the batches after it, which stay.
                client
                    .query_typed(
                        "UPDATE wa_twostep_snapshot SET seq = $1, state = $2 WHERE id = 1",
                        &[(&seq, Type::INT8), (state, Type::TEXT)],
                    )
                    .await?;
                let before = seq - SNAPSHOT_EVERY as i64;
                client
                    .query_typed(
                        "DELETE FROM wa_twostep_batches WHERE seq <= $1",
                        &[(&before, Type::INT8)],
                    )
                    .await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        });
        if let Err(e) = written {
            let why = self.unreachable(&e);
            self.rollback();
            return Err(WriteError::Unreachable(why));
        }
        let committed = rt.block_on(client.batch_execute("COMMIT"));
        match committed {
            Ok(()) => Ok(()),
            Err(e) => self.lost_answer(&e, seq, &origin),
        }
    }

    /// A commit whose answer did not arrive: committed if the batch is found.
    fn lost_answer(
        &mut self,
        e: &tokio_postgres::Error,
        seq: i64,
        origin: &str,
    ) -> Result<(), WriteError> {
        let why = self.unreachable(e);
        if self.resolve(seq, origin) {
            tracing::warn!("the database's answer to a commit was lost; the batch is committed");
            Ok(())
        } else {
            Err(WriteError::Unreachable(why))
        }
    }

    /// After a lost answer to `COMMIT`: true once the batch is found committed.
    /// Taking the head lock first waits for the old transaction to end either way.
    fn resolve(&mut self, seq: i64, origin: &str) -> bool {
        let until = Instant::now() + RESOLVE_FOR;
        while Instant::now() < until {
            self.client = None;
            let Ok((rt, client)) = self.connection() else {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            };
            let found = rt.block_on(async {
                client.batch_execute("BEGIN").await?;
                client
                    .query_typed(
                        "SELECT seq FROM wa_twostep_head WHERE id = 1 FOR UPDATE",
                        &[],
                    )
                    .await?;
                let rows = client
                    .query_typed(
                        "SELECT 1 FROM wa_twostep_batches WHERE seq = $1 AND origin = $2",
                        &[(&seq, Type::INT8), (&origin, Type::TEXT)],
                    )
                    .await?;
                client.batch_execute("ROLLBACK").await?;
                Ok::<_, tokio_postgres::Error>(!rows.is_empty())
            });
            match found {
                Ok(found) => return found,
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        false
    }
}
