//! Configuration and command line (SPEC §7): the example file, start-up errors with exit 2,
//! precedence defaults < file < env < flags, the ready line, log format and exit statuses.
//! Black-box only: every test runs the real binary; none reads the server's source.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::helpers::*;

/// SPEC §7's key table, verbatim: the keys and their defaults.
const SPEC_KEYS: &str = r#"
[server]
listen = "127.0.0.1:8080"
body_limit_bytes = 65536
header_read_timeout_secs = 10
request_timeout_secs = 30
shutdown_grace_secs = 10
trust_forwarded_for = false

[state]
path = "wa-twostep-state.json"
ephemeral = false                # true: memory only, nothing written

[api]
version = "v2.45.1"              # meta.version
empty_success = "meta"           # "meta" | "object" | "null"

[auth]
admin_password = "secret"
force_password_change = true
token_ttl_secs = 604800
max_failed_logins = 30           # per client address per hour
api_key = ""                     # empty: the Apikey scheme is off

[argon2]
memory_kib = 19456
iterations = 2
parallelism = 1
max_concurrent = 0               # 0: number of CPUs
max_queue = 64

[account]
registered = true                # the emulated number starts registered
cc = "1"
phone_number = "5550100"
vname = "Sandbox Business"
verify_code = "123456"
max_pin_guesses = 10             # wrong registration PINs per hour

[control]
enabled = true
token = ""
journal_capacity = 1000

[log]
format = "pretty"                # "pretty" | "json"
level = "info"                   # RUST_LOG overrides
"#;

/// `<repo>/config.example.toml`.
fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml")
}

/// Writes `toml` to `<dir>/config.toml` and returns its path as a string.
fn write_config(dir: &Path, toml: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(&path, toml).expect("write config");
    path.display().to_string()
}

/// Runs the binary with a config file holding `toml` (memory-only state) and returns
/// (exit code, stderr).
fn run_with_config(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), toml);
    let (status, _out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--ephemeral", "--config", &path],
        &[],
        dir.path(),
    );
    (status.code(), err)
}

/// Runs the binary with extra environment (memory-only state) and returns (exit code, stderr).
fn run_with_env(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _out, err) =
        run_to_exit(&["--listen", "127.0.0.1:0", "--ephemeral"], env, dir.path());
    (status.code(), err)
}

/// Asserts that `stderr` contains at least one of `names` (how the key may be named).
#[track_caller]
fn assert_names(stderr: &str, names: &[&str]) {
    assert!(
        names.iter().any(|n| stderr.contains(n)),
        "stderr names none of {names:?}: {stderr}"
    );
}

/// `meta.version` as the server reports it (from an unauthenticated /v1 request's error body).
async fn meta_version(app: &TestApp) -> Value {
    let resp = app
        .request(Method::GET, "/v1/health")
        .send()
        .await
        .expect("health");
    let body = expect_error(resp, StatusCode::UNAUTHORIZED, 1005).await;
    body["meta"]["version"].clone()
}

/// A child process killed when dropped, so a failing assertion never leaks a server.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_example_config_file_starts_the_server() {
    // Arrange
    let path = example_config().display().to_string();

    // Act
    let app = TestApp::with().arg("--config").arg(path).start().await;

    // Assert
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("health");
    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(meta_version(&app).await, "v2.45.1");
}

#[test]
fn the_example_config_file_lists_every_key_with_its_default_and_env_name() {
    // Arrange
    let spec: toml::Table = toml::from_str(SPEC_KEYS).expect("SPEC table parses");
    let text = std::fs::read_to_string(example_config()).expect("read config.example.toml");

    // Act
    let example: toml::Table = toml::from_str(&text).expect("config.example.toml is valid TOML");

    // Assert
    for (section, keys) in &spec {
        let keys = keys.as_table().expect("section is a table");
        for (key, default) in keys {
            let got = example.get(section).and_then(|s| s.get(key));
            assert_eq!(
                got,
                Some(default),
                "{section}.{key} missing or not its default"
            );
            let env_name = format!(
                "WA_TWOSTEP_{}__{}",
                section.to_uppercase(),
                key.to_uppercase()
            );
            assert!(
                text.contains(&env_name),
                "{env_name} not mentioned in the example"
            );
        }
    }
}

#[test]
fn an_unknown_key_in_the_config_file_exits_2_naming_it() {
    let (code, err) = run_with_config("[server]\nlisten_addr = \"x\"\n");
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_names(&err, &["listen_addr"]);
}

#[test]
fn an_unknown_section_in_the_config_file_exits_2_naming_it() {
    let (code, err) = run_with_config("[serverz]\nlisten = \"127.0.0.1:0\"\n");
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_names(&err, &["serverz"]);
}

#[test]
fn a_wrongly_typed_value_in_the_config_file_exits_2_naming_the_key() {
    let (code, err) = run_with_config("[server]\nbody_limit_bytes = \"big\"\n");
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_names(&err, &["body_limit_bytes"]);
}

#[test]
fn an_invalid_empty_success_value_exits_2_naming_the_key() {
    let (code, err) = run_with_config("[api]\nempty_success = \"maybe\"\n");
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_names(&err, &["empty_success"]);
}

#[test]
fn an_invalid_log_format_in_the_config_file_exits_2_naming_the_key() {
    let (code, err) = run_with_config("[log]\nformat = \"xml\"\n");
    assert_eq!(code, Some(2), "stderr: {err}");
    // Either the dotted name or TOML's snippet of the offending line names the key.
    assert_names(&err, &["log.format", "format = \"xml\""]);
}

#[test]
fn an_unknown_environment_variable_exits_2_naming_it() {
    let (code, err) = run_with_env(&[("WA_TWOSTEP_SERVER__NOPE", "1")]);
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_names(&err, &["WA_TWOSTEP_SERVER__NOPE", "server.nope"]);
}

#[test]
fn an_invalid_environment_value_exits_2_naming_the_variable() {
    let (code, err) = run_with_env(&[("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "abc")]);
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_names(
        &err,
        &["WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "body_limit_bytes"],
    );
}

#[test]
fn an_unknown_flag_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--ephemeral", "--no-such-flag"],
        &[],
        dir.path(),
    );
    assert_eq!(status.code(), Some(2), "stderr: {err}");
    assert_names(&err, &["--no-such-flag"]);
}

#[test]
fn an_invalid_log_format_flag_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _out, err) = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--log-format",
            "xml",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(status.code(), Some(2), "stderr: {err}");
    assert_names(&err, &["xml"]);
}

#[test]
fn a_missing_config_file_is_a_start_up_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("no-such-config.toml").display().to_string();
    let (status, _out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--ephemeral", "--config", &path],
        &[],
        dir.path(),
    );
    assert!(
        matches!(status.code(), Some(1) | Some(2)),
        "exit status {status:?}; stderr: {err}"
    );
    assert_names(&err, &[&path]);
}

#[test]
fn a_non_loopback_listen_address_with_an_open_control_plane_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _out, err) =
        run_to_exit(&["--listen", "0.0.0.0:0", "--ephemeral"], &[], dir.path());
    assert_eq!(status.code(), Some(2), "stderr: {err}");
}

#[tokio::test]
async fn the_default_api_version_is_v2_45_1() {
    let app = TestApp::spawn().await;
    assert_eq!(meta_version(&app).await, "v2.45.1");
}

#[tokio::test]
async fn the_config_file_overrides_the_default() {
    // Arrange
    let cfg = tempfile::tempdir().expect("tempdir");
    let path = write_config(cfg.path(), "[api]\nversion = \"v1\"\n");

    // Act
    let app = TestApp::with().arg("--config").arg(path).start().await;

    // Assert
    assert_eq!(meta_version(&app).await, "v1");
}

#[tokio::test]
async fn the_environment_overrides_the_config_file() {
    // Arrange
    let cfg = tempfile::tempdir().expect("tempdir");
    let path = write_config(cfg.path(), "[api]\nversion = \"v1\"\n");

    // Act
    let app = TestApp::with()
        .arg("--config")
        .arg(path)
        .env("WA_TWOSTEP_API__VERSION", "v2")
        .start()
        .await;

    // Assert
    assert_eq!(meta_version(&app).await, "v2");
}

#[tokio::test]
async fn the_listen_flag_overrides_the_config_file() {
    // Arrange: port 1 would fail (or, as root, be visible in the ready line)
    let cfg = tempfile::tempdir().expect("tempdir");
    let path = write_config(cfg.path(), "[server]\nlisten = \"127.0.0.1:1\"\n");

    // Act: the harness passes --listen 127.0.0.1:0
    let app = TestApp::with().arg("--config").arg(path).start().await;

    // Assert
    assert_ne!(app.addr.port(), 1);
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("health");
    expect_status(resp, StatusCode::OK).await;
}

#[tokio::test]
async fn the_listen_flag_overrides_the_environment() {
    // Act: the harness passes --listen 127.0.0.1:0
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__LISTEN", "127.0.0.1:1")
        .start()
        .await;

    // Assert
    assert_ne!(app.addr.port(), 1);
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("health");
    expect_status(resp, StatusCode::OK).await;
}

#[tokio::test]
async fn the_state_flag_overrides_the_environment() {
    // Arrange: the harness passes --state <dir>/state.json
    let other = tempfile::tempdir().expect("tempdir");
    let env_path = other.path().join("from-env.json");
    let app = TestApp::with()
        .env("WA_TWOSTEP_STATE__PATH", env_path.display().to_string())
        .start()
        .await;

    // Act: a change writes the state
    app.admin_token().await;

    // Assert
    assert!(app.state_path.exists(), "the --state path was not used");
    assert!(!env_path.exists(), "the environment's state path was used");
}

/// Polls the server's stderr (bounded, 5 s) until it contains `needle`.
async fn wait_for_stderr(app: &TestApp, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let err = app.stderr();
        if err.contains(needle) {
            return err;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stderr never contained {needle:?}: {err}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts every non-empty stderr line is a JSON object and one of them holds `needle`.
#[track_caller]
fn assert_json_log_lines(stderr: &str, needle: &str) {
    let mut found = false;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(value.is_object(), "log line is not a JSON object: {line}");
        found |= line.contains(needle);
    }
    assert!(found, "no JSON log line contains {needle:?}: {stderr}");
}

#[tokio::test]
async fn the_json_log_format_flag_makes_log_lines_json_objects() {
    // Arrange
    let app = TestApp::with()
        .arg("--log-format")
        .arg("json")
        .start()
        .await;

    // Act
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .header("X-Request-ID", "json-log-probe-1")
        .send()
        .await
        .expect("health");
    expect_status(resp, StatusCode::OK).await;

    // Assert
    let err = wait_for_stderr(&app, "json-log-probe-1").await;
    assert_json_log_lines(&err, "json-log-probe-1");
}

#[tokio::test]
async fn the_log_format_flag_overrides_the_environment() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_LOG__FORMAT", "pretty")
        .arg("--log-format")
        .arg("json")
        .start()
        .await;

    // Act
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .header("X-Request-ID", "json-log-probe-2")
        .send()
        .await
        .expect("health");
    expect_status(resp, StatusCode::OK).await;

    // Assert
    let err = wait_for_stderr(&app, "json-log-probe-2").await;
    assert_json_log_lines(&err, "json-log-probe-2");
}

#[tokio::test]
async fn stdout_holds_exactly_the_ready_line_with_the_real_port() {
    // Arrange
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = command(&Spawn::default(), dir.path());
    cmd.stdout(Stdio::piped());
    let mut child = KillOnDrop(cmd.spawn().expect("spawn"));
    let stdout = child.0.stdout.take().expect("stdout");
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).expect("read ready line");
        let _ = first_tx.send(first.clone());
        let mut rest = String::new();
        reader
            .read_to_string(&mut rest)
            .expect("read rest of stdout");
        (first, rest)
    });

    // Act
    let first = tokio::time::timeout(Duration::from_secs(20), first_rx)
        .await
        .expect("ready line within 20 s")
        .expect("reader thread");

    // Assert
    let port: u16 = first
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|p| p.strip_suffix('\n'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a ready line: {first:?}"));
    assert_ne!(port, 0, "the ready line must show the real port");
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/__sandbox/health"))
        .await
        .expect("health on the announced port");
    expect_status(resp, StatusCode::OK).await;
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let joined = tokio::task::spawn_blocking(move || reader.join().expect("reader"));
    let (_, rest) = tokio::time::timeout(Duration::from_secs(20), joined)
        .await
        .expect("server exits and closes stdout within 20 s of SIGTERM")
        .expect("join");
    assert_eq!(rest, "", "stdout must hold only the ready line");
}

#[tokio::test]
async fn sigterm_exits_with_status_0() {
    // Arrange
    let mut app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.disable_two_step(&token).await;

    // Act
    let status = app.stop();

    // Assert
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
}

#[tokio::test]
async fn an_address_in_use_exits_1() {
    // Arrange
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = app.addr.to_string();

    // Act
    let (status, _out, err) = run_to_exit(&["--listen", &addr, "--ephemeral"], &[], dir.path());

    // Assert
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(
        err.contains(&addr) || err.to_lowercase().contains("in use"),
        "stderr names neither {addr} nor the cause: {err}"
    );
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("health");
    expect_status(resp, StatusCode::OK).await;
}
