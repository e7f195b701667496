//! The database schema, versioned: `wa_twostep_meta.version` says which of
//! [`MIGRATIONS`] have run. At start every missing one runs, in one transaction
//! under an advisory lock (two servers starting together migrate once); a
//! database of a newer version than this build knows refuses the start, as an
//! unknown state-file schema does.

use tokio_postgres::Client;

/// Schema version this build writes and reads.
pub const VERSION: i32 = 2;

/// Advisory lock key held while migrating ("wa-twostep" in ASCII, shortened).
const MIGRATION_LOCK: i64 = 0x7761_2d74_776f;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: [&str; VERSION as usize] = [
    // 1: the snapshot, the batch log after it, the head, the shared counters.
    "CREATE TABLE wa_twostep_snapshot (
         id integer PRIMARY KEY CHECK (id = 1),
         seq bigint NOT NULL,
         state text NOT NULL
     );
     CREATE TABLE wa_twostep_batches (
         seq bigint PRIMARY KEY,
         origin text NOT NULL,
         ops text NOT NULL,
         committed_at timestamptz NOT NULL DEFAULT now()
     );
     CREATE TABLE wa_twostep_head (
         id integer PRIMARY KEY CHECK (id = 1),
         seq bigint NOT NULL
     );
     INSERT INTO wa_twostep_head (id, seq) VALUES (1, 0);
     CREATE TABLE wa_twostep_counters (
         scope text NOT NULL,
         key text NOT NULL,
         started timestamptz NOT NULL,
         n integer NOT NULL,
         PRIMARY KEY (scope, key)
     );",
    // 2: moving-window budgets (the Cloud API's register/deregister calls): one
    // row per counted event.
    "CREATE TABLE wa_twostep_events (
         id bigserial PRIMARY KEY,
         scope text NOT NULL,
         key text NOT NULL,
         at timestamptz NOT NULL DEFAULT now()
     );
     CREATE INDEX wa_twostep_events_key ON wa_twostep_events (scope, key, at);",
];

/// Creates or migrates the schema; refuses a newer one.
pub async fn migrate(client: &mut Client) -> Result<(), String> {
    let text = |e: tokio_postgres::Error| super::error_text(&e);
    let tx = client.transaction().await.map_err(text)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(text)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS wa_twostep_meta (
             id integer PRIMARY KEY CHECK (id = 1),
             version integer NOT NULL
         );
         INSERT INTO wa_twostep_meta (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .await
    .map_err(text)?;
    let found: i32 = tx
        .query_one("SELECT version FROM wa_twostep_meta WHERE id = 1", &[])
        .await
        .map_err(text)?
        .get(0);
    if found > VERSION {
        return Err(format!(
            "schema version {found} is newer than this build's {VERSION}: upgrade wa-twostep (the database is left untouched)"
        ));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| format!("migration {}: {}", n + 1, text(e)))?;
    }
    if found < VERSION {
        tx.execute(
            "UPDATE wa_twostep_meta SET version = $1 WHERE id = 1",
            &[&VERSION],
        )
        .await
        .map_err(text)?;
        tracing::info!(from = found, to = VERSION, "database schema migrated");
    }
    tx.commit().await.map_err(text)
}
