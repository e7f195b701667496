//! The spawned-binary harness: runs the real `wa-twostep` binary on 127.0.0.1
//! port 0 with a private temp state directory and the cheap argon2 setting, and
//! talks to it over real TCP. Tests see only what a user of the binary sees.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use super::client::{http_client, Remote, Server};
use super::consts::{CHEAP_ARGON2_ITERATIONS, CHEAP_ARGON2_MEMORY_KIB};

/// Path of the binary under test, built by cargo for the integration tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_wa-twostep")
}

/// How to start a server: extra flags and environment on top of the test defaults.
#[derive(Clone, Default)]
pub struct Spawn {
    /// Extra command-line arguments (after the defaults `--listen 127.0.0.1:0 --state <dir>/state.json`).
    pub args: Vec<String>,
    /// Extra environment variables (after the cheap argon2 ones, so they can override them).
    pub env: Vec<(String, String)>,
    /// Use this directory instead of a fresh temp dir (to restart on the same state).
    pub dir: Option<Arc<TempDir>>,
    /// Do not pass `--state` (the test passes its own state/ephemeral flags).
    pub no_state_flag: bool,
    /// Do not pass `--listen` (the test sets the listen address itself).
    pub no_listen_flag: bool,
    /// Shell commands run before the binary in the same process, e.g. a `ulimit`.
    pub shell_prefix: Option<String>,
    /// Leave stderr an unread pipe (see [`TestApp::take_stderr`]) instead of a file.
    pub stderr_unread: bool,
}

impl Spawn {
    /// Adds a command-line argument.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    /// Adds an environment variable.
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    /// Runs `commands` in a shell that then `exec`s the binary (limits apply to it).
    pub fn shell_prefix(mut self, commands: impl Into<String>) -> Self {
        self.shell_prefix = Some(commands.into());
        self
    }
    /// Makes stderr a pipe that nobody reads until the test takes it.
    pub fn stderr_unread(mut self) -> Self {
        self.stderr_unread = true;
        self
    }
    /// Starts the server and waits for its ready line.
    pub async fn start(self) -> TestApp {
        TestApp::start_with(self).await
    }
}

/// A running server process plus an HTTP client for it.
pub struct TestApp {
    /// The address the server reported in its ready line.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The temp directory holding the state file and the captured stderr.
    pub dir: Arc<TempDir>,
    /// `<dir>/state.json`
    pub state_path: PathBuf,
    /// A client with no default headers and no redirects.
    pub client: reqwest::Client,
    child: Option<Child>,
    spawn: Spawn,
}

/// The binary with the test environment: the developer's `WA_TWOSTEP_*` and
/// `RUST_LOG` removed (they would leak into the server's config), the cheap argon2
/// setting, then `env` (which may override it), running in `dir`.
fn base_command<K: AsRef<str>, V: AsRef<str>>(
    env: &[(K, V)],
    dir: &Path,
    shell_prefix: Option<&str>,
) -> Command {
    let mut cmd = match shell_prefix {
        None => Command::new(binary()),
        Some(prefix) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("{prefix} exec \"$0\" \"$@\""))
                .arg(binary());
            sh
        }
    };
    for (k, _) in std::env::vars() {
        if k.starts_with("WA_TWOSTEP_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env(
        "WA_TWOSTEP_ARGON2__MEMORY_KIB",
        CHEAP_ARGON2_MEMORY_KIB.to_string(),
    )
    .env(
        "WA_TWOSTEP_ARGON2__ITERATIONS",
        CHEAP_ARGON2_ITERATIONS.to_string(),
    );
    for (k, v) in env {
        cmd.env(k.as_ref(), v.as_ref());
    }
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    cmd
}

/// Builds the command for the binary with the test defaults (cheap argon2, port 0,
/// state in `dir`, stderr captured to `<dir>/stderr.log`), without running it.
pub fn command(spawn: &Spawn, dir: &Path) -> Command {
    let mut cmd = base_command(&spawn.env, dir, spawn.shell_prefix.as_deref());
    if !spawn.no_listen_flag {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    if !spawn.no_state_flag {
        cmd.arg("--state").arg(dir.join("state.json"));
    }
    cmd.args(&spawn.args);
    if spawn.stderr_unread {
        cmd.stderr(Stdio::piped());
        return cmd;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .expect("open stderr log");
    cmd.stderr(Stdio::from(log));
    cmd
}

/// Runs the binary to completion (for start-up failures) and returns its exit
/// status, stdout and stderr. Panics if it is still running after 20 s.
pub fn run_to_exit(
    args: &[&str],
    env: &[(&str, &str)],
    dir: &Path,
) -> (ExitStatus, String, String) {
    let mut cmd = base_command(env, dir, None);
    cmd.args(args).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn binary");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(_status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("output");
            return (
                out.status,
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("binary {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [`run_to_exit`] in a fresh temp dir; returns (exit code, stdout, stderr).
pub fn run_in_temp_dir(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, out, err) = run_to_exit(args, env, dir.path());
    (status.code(), out, err)
}

impl TestApp {
    /// Starts a server on `0.0.0.0:0` (memory only) with extra environment. Tests
    /// still talk to it through 127.0.0.1 only, with [`TestApp::loopback_url`].
    pub async fn on_all_interfaces(env: &[(&str, &str)]) -> TestApp {
        let mut spawn = TestApp::with()
            .arg("--listen")
            .arg("0.0.0.0:0")
            .arg("--ephemeral");
        for (k, v) in env {
            spawn = spawn.env(*k, *v);
        }
        spawn.no_listen_flag = true;
        spawn.no_state_flag = true;
        spawn.start().await
    }

    /// `http://127.0.0.1:PORT<path>`, also for a server listening on all interfaces.
    pub fn loopback_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    /// Starts a server with the test defaults in a fresh temp dir.
    pub async fn spawn() -> TestApp {
        Spawn::default().start().await
    }

    /// Returns a builder for a server with extra flags or environment.
    pub fn with() -> Spawn {
        Spawn::default()
    }

    async fn start_with(spawn: Spawn) -> TestApp {
        let dir = spawn
            .dir
            .clone()
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().expect("tempdir")));
        let mut cmd = command(&spawn, dir.path());
        let mut child = cmd.spawn().expect("spawn wa-twostep");
        let stdout = child.stdout.take().expect("stdout");
        let stderr_path = dir.path().join("stderr.log");
        let line = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).expect("read ready line");
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                    sink.clear();
                }
            });
            line
        })
        .await
        .expect("join");
        let Some(rest) = line.trim_end().strip_prefix("listening on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("server did not print its ready line (got {line:?}); stderr:\n{err}");
        };
        let addr: SocketAddr = rest.parse().expect("ready line has HOST:PORT");
        let client = http_client();
        TestApp {
            addr,
            base: format!("http://{addr}"),
            state_path: dir.path().join("state.json"),
            dir,
            client,
            child: Some(child),
            spawn,
        }
    }

    /// The unread stderr pipe of a server started with [`Spawn::stderr_unread`].
    pub fn take_stderr(&mut self) -> std::process::ChildStderr {
        let child = self.child.as_mut().expect("server running");
        child
            .stderr
            .take()
            .expect("started with stderr_unread, taken once")
    }

    /// A handle with this server's URL and client that outlives a kill.
    pub fn remote(&self) -> Remote {
        Remote {
            base: self.base.clone(),
            client: self.client.clone(),
        }
    }

    /// Everything the server wrote to stderr so far (its logs).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Polls the server's stderr (bounded, 5 s) until it contains `needle`, and
    /// returns it then; `None` if it never did. Logs are written just after the
    /// response, and there is no other signal for that.
    pub async fn stderr_containing(&self, needle: &str) -> Option<String> {
        for _ in 0..250 {
            let err = self.stderr();
            if err.contains(needle) {
                return Some(err);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Sends SIGTERM and waits (up to 20 s) for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.terminate();
        self.wait_exit()
    }

    /// Sends SIGTERM without waiting: the server drains while the test watches.
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("server already stopped");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }

    /// Waits (up to 20 s) for the server to exit, after [`TestApp::terminate`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server with SIGKILL (no chance to clean up).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server gracefully and starts a new one on the same state directory
    /// with the same flags and environment.
    pub async fn restart(mut self) -> TestApp {
        let status = self.stop();
        assert!(status.success(), "server exited with {status:?} on SIGTERM");
        let mut spawn = self.spawn.clone();
        spawn.dir = Some(self.dir.clone());
        spawn.start().await
    }
}

impl Server for TestApp {
    fn base(&self) -> &str {
        &self.base
    }
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Fires `n` logins of the seed admin with the seed password at once, spread over
/// `servers` in turn, and returns their statuses in the order they were sent.
pub async fn parallel_first_logins(servers: &[&TestApp], n: usize) -> Vec<u16> {
    parallel_logins(servers, n, super::consts::SEED_PASSWORD).await
}

/// Fires `n` logins of `admin` with `password` at once, spread over `servers` in
/// turn; their statuses in the order they were sent.
pub async fn parallel_logins(servers: &[&TestApp], n: usize, password: &str) -> Vec<u16> {
    let requests = (0..n).map(|i| {
        servers[i % servers.len()]
            .request(reqwest::Method::POST, "/v1/users/login")
            .header("Authorization", super::client::basic("admin", password))
    });
    parallel_statuses(requests).await
}

/// Sends every request at once; their statuses in the order given.
pub async fn parallel_statuses(
    requests: impl IntoIterator<Item = reqwest::RequestBuilder>,
) -> Vec<u16> {
    let sent: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(async move { r.send().await.expect("request").status().as_u16() }))
        .collect();
    let mut statuses = Vec::new();
    for s in sent {
        statuses.push(s.await.expect("join"));
    }
    statuses
}

/// How many of `statuses` are `status`.
pub fn count_of(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}
