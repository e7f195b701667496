//! Counters every server shares: one row per `(scope, key)` with the start of its
//! window and the events counted in it, by the database's clock (servers' clocks
//! may differ). Each operation is one statement, atomic on its own, so concurrent
//! failures through different servers are all counted.

use std::time::Duration;

use tokio_postgres::types::Type;

use super::Database;

/// Rows whose window closed are swept about once per this many recorded events.
const SWEEP_EVERY: u64 = 1024;

impl Database {
    /// The events `key` of `scope` counted in its open window and the time since
    /// that window opened; `None` when no window is open.
    pub async fn counter_status(
        &self,
        scope: &str,
        key: &str,
        window: Duration,
    ) -> Result<Option<(u32, Duration)>, String> {
        let secs = window.as_secs_f64();
        self.with_client(|c| async move {
            let rows = c
                .query_typed(
                    "SELECT n, EXTRACT(EPOCH FROM now() - started)::float8 FROM wa_twostep_counters
                     WHERE scope = $1 AND key = $2 AND started > now() - make_interval(secs => $3)",
                    &[
                        (&scope, Type::TEXT),
                        (&key, Type::TEXT),
                        (&secs, Type::FLOAT8),
                    ],
                )
                .await?;
            Ok(rows.first().map(|r| {
                let n: i32 = r.get(0);
                let elapsed: f64 = r.get(1);
                (n.max(0) as u32, Duration::from_secs_f64(elapsed.max(0.0)))
            }))
        })
        .await
    }

    /// Keys of `scope` with an open window (the limiter gauge of `/metrics`).
    pub async fn counter_keys(&self, scope: &str, window: Duration) -> Result<u64, String> {
        let secs = window.as_secs_f64();
        self.with_client(|c| async move {
            let rows = c
                .query_typed(
                    "SELECT count(*) FROM wa_twostep_counters
                     WHERE scope = $1 AND started > now() - make_interval(secs => $2)",
                    &[(&scope, Type::TEXT), (&secs, Type::FLOAT8)],
                )
                .await?;
            let n: i64 = rows.first().map_or(0, |r| r.get(0));
            Ok(n.max(0) as u64)
        })
        .await
    }

    /// Bounded storage: now and then (one event in [`SWEEP_EVERY`]), keys of
    /// `scope` whose window closed, which count for nothing, are deleted.
    async fn maybe_sweep(&self, scope: &str, window: Duration) -> Result<(), String> {
        if !rand_core::RngCore::next_u64(&mut rand_core::OsRng).is_multiple_of(SWEEP_EVERY) {
            return Ok(());
        }
        let secs = window.as_secs_f64();
        self.with_client(|c| async move {
            c.query_typed(
                "DELETE FROM wa_twostep_counters WHERE scope = $1 AND started <= now() - make_interval(secs => $2)",
                &[(&scope, Type::TEXT), (&secs, Type::FLOAT8)],
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Counts one event unless `max` are in the open window, in one statement: the
    /// upsert locks the key's row and its `WHERE` sees the latest count, so servers
    /// racing for the last place cannot both take it. False when blocked.
    pub async fn counter_take(
        &self,
        scope: &str,
        key: &str,
        max: u32,
        window: Duration,
    ) -> Result<bool, String> {
        let (max, secs) = (i32::try_from(max).unwrap_or(i32::MAX), window.as_secs_f64());
        let taken = self.with_client(|c| async move {
            let rows = c
                .query_typed(
                    "INSERT INTO wa_twostep_counters AS c (scope, key, started, n) VALUES ($1, $2, now(), 1)
                     ON CONFLICT (scope, key) DO UPDATE SET
                         started = CASE WHEN c.started <= now() - make_interval(secs => $3) THEN now() ELSE c.started END,
                         n = CASE WHEN c.started <= now() - make_interval(secs => $3) THEN 1 ELSE c.n + 1 END
                     WHERE c.started <= now() - make_interval(secs => $3) OR c.n < $4
                     RETURNING n",
                    &[
                        (&scope, Type::TEXT),
                        (&key, Type::TEXT),
                        (&secs, Type::FLOAT8),
                        (&max, Type::INT4),
                    ],
                )
                .await?;
            Ok(!rows.is_empty())
        })
        .await?;
        self.maybe_sweep(scope, window).await?;
        Ok(taken)
    }

    /// Takes back one event of `key`; the row goes at zero, so the next event opens
    /// a new window.
    pub async fn counter_give_back(&self, scope: &str, key: &str) -> Result<(), String> {
        self.with_client(|c| async move {
            c.query_typed(
                "WITH gone AS (DELETE FROM wa_twostep_counters WHERE scope = $1 AND key = $2 AND n <= 1)
                 UPDATE wa_twostep_counters SET n = n - 1 WHERE scope = $1 AND key = $2 AND n > 1",
                &[(&scope, Type::TEXT), (&key, Type::TEXT)],
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Forgets every key of `scope` (control-plane reset).
    pub async fn counter_clear(&self, scope: &str) -> Result<(), String> {
        self.with_client(|c| async move {
            c.query_typed(
                "DELETE FROM wa_twostep_counters WHERE scope = $1",
                &[(&scope, Type::TEXT)],
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Moving window: counts one event for `key` of `scope` unless `max` fall in
    /// the last `window`; false when the budget is used up. Serialised per key by a
    /// transaction-scoped advisory lock taken in a statement of its own: the count
    /// is a later statement, whose snapshot then holds every event committed by
    /// whoever had the lock before (one statement's snapshot predates its lock, so
    /// two servers could both take the last place).
    pub async fn window_take(
        &self,
        scope: &str,
        key: &str,
        max: u32,
        window: Duration,
    ) -> Result<bool, String> {
        let (max, secs) = (i64::from(max), window.as_secs_f64());
        let lock = format!("{scope}/{key}");
        self.in_budget_transaction(async |tx| {
            tx.query_typed(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[(&lock, Type::TEXT)],
            )
            .await?;
            let rows = tx
                .query_typed(
                    "INSERT INTO wa_twostep_events (scope, key)
                     SELECT $1, $2 WHERE (SELECT count(*) FROM wa_twostep_events
                         WHERE scope = $1 AND key = $2 AND at > now() - make_interval(secs => $3)) < $4
                     RETURNING id",
                    &[
                        (&scope, Type::TEXT),
                        (&key, Type::TEXT),
                        (&secs, Type::FLOAT8),
                        (&max, Type::INT8),
                    ],
                )
                .await?;
            Ok(!rows.is_empty())
        })
        .await
    }

    /// Moving window: takes back the latest event of `key` (its call did not happen).
    pub async fn window_give_back(&self, scope: &str, key: &str) -> Result<(), String> {
        self.with_client(|c| async move {
            c.query_typed(
                "DELETE FROM wa_twostep_events WHERE id = (
                     SELECT id FROM wa_twostep_events WHERE scope = $1 AND key = $2
                     ORDER BY at DESC, id DESC LIMIT 1)",
                &[(&scope, Type::TEXT), (&key, Type::TEXT)],
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Moving window: the events of `key` in the last `window`.
    pub async fn window_used(
        &self,
        scope: &str,
        key: &str,
        window: Duration,
    ) -> Result<u32, String> {
        let secs = window.as_secs_f64();
        self.with_client(|c| async move {
            let row = c
                .query_typed(
                    "SELECT count(*) FROM wa_twostep_events
                     WHERE scope = $1 AND key = $2 AND at > now() - make_interval(secs => $3)",
                    &[
                        (&scope, Type::TEXT),
                        (&key, Type::TEXT),
                        (&secs, Type::FLOAT8),
                    ],
                )
                .await?;
            let n: i64 = row.first().map_or(0, |r| r.get(0));
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Moving window: forgets every event of `scope`.
    pub async fn window_clear(&self, scope: &str) -> Result<(), String> {
        self.with_client(|c| async move {
            c.query_typed(
                "DELETE FROM wa_twostep_events WHERE scope = $1",
                &[(&scope, Type::TEXT)],
            )
            .await?;
            Ok(())
        })
        .await
    }
}
