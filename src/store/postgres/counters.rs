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

    /// Counts one event; a closed window starts over at this one.
    pub async fn counter_record(
        &self,
        scope: &str,
        key: &str,
        window: Duration,
    ) -> Result<(), String> {
        let secs = window.as_secs_f64();
        let sweep = rand_core::RngCore::next_u64(&mut rand_core::OsRng).is_multiple_of(SWEEP_EVERY);
        self.with_client(|c| async move {
            c.query_typed(
                "INSERT INTO wa_twostep_counters AS c (scope, key, started, n) VALUES ($1, $2, now(), 1)
                 ON CONFLICT (scope, key) DO UPDATE SET
                     started = CASE WHEN c.started <= now() - make_interval(secs => $3) THEN now() ELSE c.started END,
                     n = CASE WHEN c.started <= now() - make_interval(secs => $3) THEN 1 ELSE c.n + 1 END",
                &[(&scope, Type::TEXT), (&key, Type::TEXT), (&secs, Type::FLOAT8)],
            )
            .await?;
            if sweep {
                // Bounded storage: keys whose window closed count for nothing.
                c.query_typed(
                    "DELETE FROM wa_twostep_counters WHERE scope = $1 AND started <= now() - make_interval(secs => $2)",
                    &[(&scope, Type::TEXT), (&secs, Type::FLOAT8)],
                )
                .await?;
            }
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
}
