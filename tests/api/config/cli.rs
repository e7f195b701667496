//! The command line and the process: flags over environment and file, bad flags
//! exit 2, the ready line on stdout, the log format, SIGTERM exits 0 and an
//! address in use exits 1.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::settings::*;
use crate::support::*;

/// The server's stderr once it contains `needle` (bounded, 5 s).
async fn stderr_of(app: &TestApp, needle: &str) -> String {
    app.stderr_containing(needle)
        .await
        .unwrap_or_else(|| panic!("stderr never contained {needle:?}: {}", app.stderr()))
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

/// A bad flag value is named by its flag, so the user knows which to fix.
#[test]
fn an_invalid_log_format_flag_exits_2() {
    let (code, out, err) = run_in_temp_dir(
        &[
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--log-format",
            "xml",
        ],
        &[],
    );
    assert_eq!(code, Some(2), "stderr: {err}");
    assert!(out.is_empty(), "stdout: {out}");
    assert!(
        err.contains("--log-format") && err.contains("xml"),
        "stderr: {err}"
    );
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
    app.get_ok("/__sandbox/health").await;
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
    app.get_ok("/__sandbox/health").await;
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

/// Sends the probe with request id `id` and asserts that the log lines are JSON
/// objects and one of them names `id`.
async fn assert_probe_is_logged_as_json(app: &TestApp, id: &str) {
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .header("X-Request-ID", id)
        .send()
        .await
        .expect("health");
    expect_status(resp, 200).await;
    assert_json_log_lines(&stderr_of(app, id).await, id);
}

#[tokio::test]
async fn the_json_log_format_flag_makes_log_lines_json_objects() {
    // Arrange
    let app = TestApp::with()
        .arg("--log-format")
        .arg("json")
        .start()
        .await;

    // Act + Assert
    assert_probe_is_logged_as_json(&app, "json-log-probe-1").await;
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

    // Act + Assert
    assert_probe_is_logged_as_json(&app, "json-log-probe-2").await;
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
    expect_status(resp, 200).await;
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
    app.get_ok("/__sandbox/health").await;
}

#[tokio::test]
async fn request_lines_follow_the_log_level_and_target_filters() {
    // Each server answers a probe, is stopped (so every line is written), and its
    // log either has the probe's request line or has not.
    for (env, logged, other_info) in [
        (("WA_TWOSTEP_LOG__LEVEL", "info"), true, true),
        (("WA_TWOSTEP_LOG__LEVEL", "warn"), false, false),
        (
            ("RUST_LOG", "info,wa_twostep::api::middleware=warn"),
            false,
            true,
        ),
    ] {
        let mut app = TestApp::with().env(env.0, env.1).start().await;
        let id = format!("level-probe-{}", env.1.len());
        let resp = app
            .request(Method::GET, "/__sandbox/health")
            .header("X-Request-ID", &id)
            .send()
            .await
            .expect("health");
        expect_status(resp, 200).await;
        app.stop();
        let stderr = app.stderr();
        assert_eq!(stderr.contains(&id), logged, "{env:?}: {stderr}");
        // Other info lines follow the level: a target filter silences only its target.
        assert_eq!(
            stderr.contains("shutting down"),
            other_info,
            "{env:?}: {stderr}"
        );
    }
}
