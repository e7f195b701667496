//! Test harness: runs the real `wa-twostep` binary on 127.0.0.1 port 0 with a
//! private temp state directory and a cheap argon2 setting, and talks to it over
//! real TCP. Tests are black-box: they see only what a user of the binary sees.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

/// The seed admin password (`auth.admin_password` default).
pub const SEED_PASSWORD: &str = "secret";
/// The password the helpers set at the admin's first login.
pub const ADMIN_PASSWORD: &str = "Sandbox-Pa55!";
/// Path of the two-step endpoint.
pub const TWO_STEP: &str = "/v1/settings/account/two-step";

/// Environment that makes argon2 cheap, so the suite stays fast.
pub const CHEAP_ARGON2: [(&str, &str); 2] = [
    ("WA_TWOSTEP_ARGON2__MEMORY_KIB", "64"),
    ("WA_TWOSTEP_ARGON2__ITERATIONS", "1"),
];

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

/// Builds the command for the binary with the test defaults (cheap argon2, port 0,
/// state in `dir`, stderr captured to `<dir>/stderr.log`), without running it.
pub fn command(spawn: &Spawn, dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    if !spawn.no_listen_flag {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    if !spawn.no_state_flag {
        cmd.arg("--state").arg(dir.join("state.json"));
    }
    cmd.args(&spawn.args);
    // Keep the developer's environment from leaking into the server's config.
    for (k, _) in std::env::vars() {
        if k.starts_with("WA_TWOSTEP_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in CHEAP_ARGON2 {
        cmd.env(k, v);
    }
    for (k, v) in &spawn.env {
        cmd.env(k, v);
    }
    cmd.current_dir(dir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .expect("open stderr log");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    cmd
}

/// Runs the binary to completion (for start-up failures) and returns its exit
/// status, stdout and stderr. Panics if it is still running after 20 s.
pub fn run_to_exit(
    args: &[&str],
    env: &[(&str, &str)],
    dir: &Path,
) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("WA_TWOSTEP_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in CHEAP_ARGON2 {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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

impl TestApp {
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
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
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

    /// Full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Everything the server wrote to stderr so far (its logs).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (up to 20 s) for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
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

    /// A request builder for `method path` (no auth).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `POST /v1/users/login` with Basic credentials and an optional JSON body.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .request(Method::POST, "/v1/users/login")
            .header("Authorization", basic(user, password));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("login request")
    }

    /// Performs the admin's first login (changing the seed password to
    /// [`ADMIN_PASSWORD`]) and returns the token. Later calls log in with the new password.
    pub async fn admin_token(&self) -> String {
        let first = self
            .login(
                "admin",
                SEED_PASSWORD,
                Some(serde_json::json!({"new_password": ADMIN_PASSWORD})),
            )
            .await;
        let resp = if first.status() == StatusCode::OK {
            first
        } else {
            self.login("admin", ADMIN_PASSWORD, None).await
        };
        let body = expect_status(resp, StatusCode::OK).await;
        body["users"][0]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a `ROLE_USER` user with the admin token and returns a token for it.
    pub async fn user_token(&self, admin: &str, username: &str, password: &str) -> String {
        let resp = self
            .request(Method::POST, "/v1/users")
            .bearer_auth(admin)
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("create user");
        expect_status(resp, StatusCode::CREATED).await;
        let resp = self.login(username, password, None).await;
        let body = expect_status(resp, StatusCode::OK).await;
        body["users"][0]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// `POST /v1/settings/account/two-step` with a JSON body.
    pub async fn set_pin(&self, token: &str, body: Value) -> reqwest::Response {
        self.request(Method::POST, TWO_STEP)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("set pin")
    }

    /// `DELETE /v1/settings/account/two-step`.
    pub async fn disable_two_step(&self, token: &str) -> reqwest::Response {
        self.request(Method::DELETE, TWO_STEP)
            .bearer_auth(token)
            .send()
            .await
            .expect("disable two-step")
    }

    /// `GET /__sandbox/state` (no control token), asserting 200.
    pub async fn sandbox_state(&self) -> Value {
        let resp = self
            .request(Method::GET, "/__sandbox/state")
            .send()
            .await
            .expect("sandbox state");
        expect_status(resp, StatusCode::OK).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Asserts the status and returns the JSON body (`Value::Null` for an empty body).
#[track_caller]
pub fn expect_status(
    resp: reqwest::Response,
    status: StatusCode,
) -> impl std::future::Future<Output = Value> {
    let caller = std::panic::Location::caller();
    async move {
        let got = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(got, status, "unexpected status at {caller}; body: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("body is not JSON at {caller}: {e}: {text}"))
        }
    }
}

/// Asserts an error envelope: the HTTP status, `errors[0].code`, the fixed title
/// for that code, the `meta` object and the JSON content type. Returns the body.
#[track_caller]
pub fn expect_error(
    resp: reqwest::Response,
    status: StatusCode,
    code: i64,
) -> impl std::future::Future<Output = Value> {
    let caller = std::panic::Location::caller();
    async move {
        let got = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        let text = resp.text().await.expect("body");
        assert_eq!(got, status, "unexpected status at {caller}; body: {text}");
        assert!(
            ctype.starts_with("application/json"),
            "content-type {ctype:?} at {caller}"
        );
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("error body is not JSON at {caller}: {e}: {text}"));
        assert_eq!(
            body["errors"][0]["code"], code,
            "unexpected code at {caller}; body: {text}"
        );
        assert_eq!(
            body["errors"][0]["title"],
            title_of(code),
            "unexpected title at {caller}; body: {text}"
        );
        assert_eq!(
            body["meta"]["api_status"], "stable",
            "meta missing at {caller}; body: {text}"
        );
        assert!(
            body["meta"]["version"].is_string(),
            "meta.version missing at {caller}; body: {text}"
        );
        body
    }
}

/// The fixed title of each error code (SPEC §1).
pub fn title_of(code: i64) -> &'static str {
    match code {
        1004 => "Resource already exists",
        1005 => "Access denied",
        1006 => "Resource not found",
        1008 => "Required parameter is missing",
        1009 => "Parameter value is not valid",
        1010 => "Parameter is not required",
        1014 => "Internal error",
        1015 => "Too many requests",
        1016 => "System overloaded",
        1024 => "Password change required",
        1025 => "Request is not valid",
        other => panic!("no title known for code {other}"),
    }
}
