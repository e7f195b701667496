//! Start-up errors a newcomer can act on: bad flag values named by their flag,
//! one-line configuration errors that say where the value came from (and never
//! echo a secret), log filters that would silently log nothing, conflicting state
//! flags, a state file in a missing directory, and the start-up log line.

use std::time::{Duration, Instant};

use crate::support::*;

/// Runs the binary (memory only; port 0 unless `toml` sets the listen address, which
/// the flag would override) with the config file `toml`; returns (exit code, stderr,
/// the config file's path).
fn run_with_config(toml: &str, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("newcomer.toml");
    std::fs::write(&path, toml).expect("write config");
    let path = path.display().to_string();
    let mut args = vec!["--ephemeral", "--config", &path];
    if !toml.contains("listen") {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    let (status, _out, err) = run_to_exit(&args, env, dir.path());
    (status.code(), err, path)
}

/// Waits (bounded: 10 s) for a stderr line containing every one of `needles`; returns it.
async fn wait_for_log_line(app: &TestApp, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let err = app.stderr();
        if let Some(line) = err.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.to_owned();
        }
        // The log writer thread writes just after the ready line; there is no signal to await.
        assert!(
            Instant::now() < deadline,
            "no log line with {needles:?} in: {err}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- flags

#[test]
fn a_host_name_as_listen_flag_asks_for_an_ip_address() {
    let (code, out, err) = run_in_temp_dir(&["--listen", "localhost:8080", "--ephemeral"], &[]);

    assert_eq!(code, Some(2), "stderr: {err}");
    assert!(out.is_empty(), "stdout: {out}");
    assert!(err.contains("--listen"), "stderr: {err}");
    assert!(err.contains("localhost:8080"), "stderr: {err}");
    assert!(err.contains("IP address"), "stderr: {err}");
}

#[test]
fn a_host_name_in_the_listen_key_asks_for_an_ip_address() {
    let (code, err, path) = run_with_config("[server]\nlisten = \"localhost:8080\"\n", &[]);

    assert_one_line_config_error(code, &err);
    assert!(err.contains(&path), "stderr: {err}");
    assert!(
        err.contains("server.listen") && err.contains("localhost:8080"),
        "stderr: {err}"
    );
    assert!(err.contains("IP address"), "stderr: {err}");
}

#[test]
fn ephemeral_together_with_state_exits_2_naming_both_flags() {
    let (code, out, err) = run_in_temp_dir(
        &[
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--state",
            "state.json",
        ],
        &[],
    );

    assert_eq!(code, Some(2), "stderr: {err}");
    assert!(out.is_empty(), "stdout: {out}");
    assert!(
        err.contains("--ephemeral") && err.contains("--state"),
        "stderr: {err}"
    );
}

#[test]
fn a_state_file_in_a_missing_directory_exits_1_naming_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir");
    let state = missing.join("state.json").display().to_string();

    let (status, out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--state", &state],
        &[],
        dir.path(),
    );

    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(out.is_empty(), "stdout: {out}");
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("does not exist"),
        "stderr: {err}"
    );
    assert!(!missing.exists(), "the directory was created");
}

// ---------------------------------------------------------------- config errors

#[test]
fn a_config_file_error_is_one_line_naming_the_file_the_key_and_the_value() {
    let (code, err, path) = run_with_config("[server]\nbody_limit_bytes = \"big\"\n", &[]);

    assert_one_line_config_error(code, &err);
    assert!(err.contains(&path), "stderr does not name the file: {err}");
    assert!(err.contains("server.body_limit_bytes"), "stderr: {err}");
    assert!(
        err.contains("\"big\""),
        "stderr does not echo the value: {err}"
    );
}

#[test]
fn an_out_of_range_value_in_the_config_file_is_echoed() {
    let (code, err, path) = run_with_config("[server]\nbody_limit_bytes = 0\n", &[]);

    assert_one_line_config_error(code, &err);
    assert!(err.contains(&path), "stderr: {err}");
    assert!(err.contains("server.body_limit_bytes = 0"), "stderr: {err}");
}

#[test]
fn a_toml_syntax_error_is_one_line_with_its_position() {
    let (code, err, path) = run_with_config("[server\nlisten = 1\n", &[]);

    assert_one_line_config_error(code, &err);
    assert!(err.contains(&path), "stderr: {err}");
    assert!(err.contains("line 1"), "stderr: {err}");
}

#[test]
fn an_environment_error_names_the_variable_and_echoes_the_value() {
    let (code, err, _path) = run_with_config("", &[("WA_TWOSTEP_API__EMPTY_SUCCESS", "maybe")]);

    assert_one_line_config_error(code, &err);
    assert!(
        err.contains("WA_TWOSTEP_API__EMPTY_SUCCESS"),
        "stderr: {err}"
    );
    assert!(err.contains("maybe"), "stderr: {err}");
}

/// A config file, extra environment, the key the error must name and the secret it must not show.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn errors_about_secret_keys_never_echo_the_value() {
    let cases: [Case; 3] = [
        (
            "[auth]\nadmin_password = 424242\n",
            &[],
            "auth.admin_password",
            "424242",
        ),
        (
            "[auth]\napi_key = \"short-key\"\n",
            &[],
            "auth.api_key",
            "short-key",
        ),
        (
            "[server]\nlisten = \"0.0.0.0:0\"\n",
            &[("WA_TWOSTEP_CONTROL__TOKEN", "tok-seven")],
            "control.token",
            "tok-seven",
        ),
    ];
    for (toml, env, key, secret) in cases {
        let (code, err, _path) = run_with_config(toml, env);

        assert_one_line_config_error(code, &err);
        assert!(err.contains(key), "stderr does not name {key}: {err}");
        assert!(!err.contains(secret), "stderr echoes the secret: {err}");
    }
}

// ---------------------------------------------------------------- log filters

#[test]
fn a_log_level_that_is_not_a_level_exits_2_naming_the_key() {
    let (code, err, path) = run_with_config("[log]\nlevel = \"warning\"\n", &[]);

    assert_one_line_config_error(code, &err);
    assert!(err.contains(&path), "stderr: {err}");
    assert!(
        err.contains("log.level") && err.contains("warning"),
        "stderr: {err}"
    );
}

#[test]
fn an_invalid_rust_log_exits_2_naming_the_variable() {
    for value in ["warning", "info,[[["] {
        let (code, out, err) = run_in_temp_dir(
            &["--listen", "127.0.0.1:0", "--ephemeral"],
            &[("RUST_LOG", value)],
        );

        assert_one_line_config_error(code, &err);
        assert!(out.is_empty(), "stdout: {out}");
        assert!(err.contains("RUST_LOG"), "stderr: {err}");
    }
}

#[tokio::test]
async fn a_valid_rust_log_with_a_target_still_starts() {
    let app = TestApp::with()
        .env("RUST_LOG", "warn,wa_twostep=info")
        .start()
        .await;

    wait_for_log_line(&app, &["ready"]).await;
}

// ---------------------------------------------------------------- start-up line

#[tokio::test]
async fn the_start_up_log_line_names_version_address_and_state_file() {
    let app = TestApp::spawn().await;

    let line = wait_for_log_line(&app, &["ready"]).await;

    assert!(line.contains(env!("CARGO_PKG_VERSION")), "line: {line}");
    assert!(line.contains(&app.addr.to_string()), "line: {line}");
    let state = app.state_path.display().to_string();
    assert!(line.contains(&state), "line does not name {state}: {line}");
}

#[tokio::test]
async fn the_start_up_log_line_says_memory_only_when_ephemeral() {
    let mut spawn = TestApp::with().arg("--ephemeral");
    spawn.no_state_flag = true;
    let app = spawn.start().await;

    let line = wait_for_log_line(&app, &["ready"]).await;

    assert!(line.contains("memory only"), "line: {line}");
    assert!(line.contains(&app.addr.to_string()), "line: {line}");
}
