//! A throwaway PostgreSQL for the replica tests: `initdb` in a temp dir, the
//! server on a free port on 127.0.0.1 (and a Unix socket in that dir), run as the
//! unprivileged `postgres` user when the tests run as root (PostgreSQL refuses to
//! run as root), stopped and removed on drop. The superuser `wa` has a password,
//! so tests can check that no message ever shows it. Debian's binaries live in
//! `/usr/lib/postgresql/<version>/bin`; `WA_TWOSTEP_TEST_PG_BIN` names another
//! directory. Missing, the test fails saying what to install.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use tempfile::TempDir;

use super::app::Spawn;
use super::nginx::free_port;

/// The database superuser's password: tests assert it never appears in output.
pub const PG_PASSWORD: &str = "pg-Secret-7781";

/// The directory with `initdb`, `pg_ctl` and `psql`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WA_TWOSTEP_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb): the replica \
             tests need it. Install Debian's package (as root: apt-get install -y postgresql, or \
             run bash .ci/deps.sh), or point WA_TWOSTEP_TEST_PG_BIN at a directory with initdb and pg_ctl"
        )
    })
}

/// True when the tests run as root, so PostgreSQL runs as `postgres`.
fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A running throwaway cluster.
pub struct Postgres {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Data directory, socket and log live here; removed on drop.
    dir: TempDir,
    /// `initdb`, `pg_ctl`, `psql`.
    bin: PathBuf,
    /// Whether the server runs now.
    running: bool,
}

impl Postgres {
    /// Creates and starts a cluster.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("wa-twostep-pg")
            .tempdir()
            .expect("tempdir");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, PG_PASSWORD).expect("password file");
        if as_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the cluster's temp dir to the postgres user (does that user exist? Debian's postgresql package creates it)");
        }
        let mut pg = Postgres {
            port: free_port(),
            bin,
            dir,
            running: false,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "wa",
                &format!("--pwfile={}", pw.display()),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.start_again();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of the cluster's programs, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", path.display()))
    }

    /// Starts the (stopped) server again on the same port, waiting until it accepts.
    pub fn start_again(&mut self) {
        let socket_dir = self.dir.path().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!(
            "-k {socket_dir} -p {} -c listen_addresses=127.0.0.1",
            self.port
        );
        let data = self.data();
        let out = self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.running = true;
    }

    /// Stops the server at once (`immediate`: what a crash or a lost host looks like
    /// to clients).
    pub fn stop(&mut self) {
        self.stop_mode("immediate");
    }

    /// Stops the server as an administrator does (`fast`: every session is told
    /// it ends, SQLSTATE 57P01, before the server goes).
    pub fn stop_fast(&mut self) {
        self.stop_mode("fast");
    }

    fn stop_mode(&mut self, mode: &str) {
        let data = self.data();
        let out = self.run("pg_ctl", &["-D", &data, "-m", mode, "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = false;
    }

    /// Runs SQL as the superuser over the Unix socket; returns its output (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let host = self.dir.path().display().to_string();
        let port = self.port.to_string();
        let out = self.run(
            "psql",
            &[
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &host,
                "-p",
                &port,
                "-U",
                "wa",
                "-d",
                database,
                "-c",
                sql,
            ],
        );
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates an empty database and returns its URL (with the password).
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// `postgres://wa:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://wa:{PG_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        // The TempDir removes the cluster (root may remove files postgres owns).
    }
}

/// A server on the shared state in the database at `url` (cheap argon2, port 0,
/// no state file), for [`Spawn::start`].
pub fn replica(url: &str) -> Spawn {
    let mut spawn = Spawn::default()
        .env("WA_TWOSTEP_STATE__BACKEND", "postgres")
        .env("WA_TWOSTEP_STATE__POSTGRES_URL", url)
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false");
    spawn.no_state_flag = true;
    spawn
}

/// Polls `check` every 50 ms for up to `limit`; true once it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Two servers on one fresh database of a fresh cluster.
pub struct Replicas {
    /// Server A.
    pub a: super::app::TestApp,
    /// Server B.
    pub b: super::app::TestApp,
    /// The database's URL.
    pub url: String,
    /// The cluster (dropped last: it outlives the servers).
    pub pg: Postgres,
}

impl Replicas {
    /// A cluster, a database, and two servers on it, each started with `env` too.
    pub async fn start(env: &[(&str, &str)]) -> Replicas {
        let pg = Postgres::start();
        let url = pg.create_database("sandbox");
        let spawn = || env.iter().fold(replica(&url), |s, (k, v)| s.env(*k, *v));
        let a = spawn().start().await;
        let b = spawn().start().await;
        Replicas { a, b, url, pg }
    }
}
