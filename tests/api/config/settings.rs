//! Configuration: the example file lists every key, bad keys and values exit 2
//! naming them, and the precedence defaults < file < environment. Flags, the
//! ready line, logs and exit statuses are in `cli`. Every test runs the binary.

use std::path::{Path, PathBuf};
use std::process::Child;

use serde_json::{json, Value};

use crate::support::*;

/// The documented key table, verbatim: the keys and their defaults.
const DOCUMENTED_KEYS: &str = r#"
[server]
listen = "127.0.0.1:8080"
body_limit_bytes = 65536
header_read_timeout_secs = 10
request_timeout_secs = 30
shutdown_grace_secs = 10
trust_forwarded_for = false
proxy_hops = 1                   # trusted proxies: X-Forwarded-For entries counted from the right
public_url = ""                  # base of absolute links; empty: derived from the request

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
pub(super) fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml")
}

/// Writes `toml` to `<dir>/config.toml` and returns its path as a string.
pub(super) fn write_config(dir: &Path, toml: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(&path, toml).expect("write config");
    path.display().to_string()
}

/// Runs the binary with a config file holding `toml` (memory-only state) and returns
/// (exit code, stderr).
pub(super) fn run_with_config(toml: &str) -> (Option<i32>, String) {
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
pub(super) fn run_with_env(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _out, err) =
        run_to_exit(&["--listen", "127.0.0.1:0", "--ephemeral"], env, dir.path());
    (status.code(), err)
}

/// Asserts that `stderr` contains at least one of `names` (how the key may be named).
#[track_caller]
pub(super) fn assert_names(stderr: &str, names: &[&str]) {
    assert!(
        names.iter().any(|n| stderr.contains(n)),
        "stderr names none of {names:?}: {stderr}"
    );
}

/// `meta.version` as the server reports it (from an unauthenticated /v1 request's error body).
pub(super) async fn meta_version(app: &TestApp) -> Value {
    let resp = app.get("/v1/health").await;
    let r = Reply::of(resp).await;
    let version = r.json()["meta"]["version"].clone();
    let meta = json!({"version": version, "api_status": "stable"});
    if let Some(wrong) = error_mismatch_with_meta(&r, 401, 1005, Some(NO_CREDENTIALS), &meta) {
        panic!("not the 401 envelope: {wrong}");
    }
    version
}

/// A child process killed when dropped, so a failing assertion never leaks a server.
pub(super) struct KillOnDrop(pub(super) Child);

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
    let body = app.get_ok("/__sandbox/health").await;
    assert_eq!(body["status"], "ok");
    assert_eq!(meta_version(&app).await, "v2.45.1");
}

#[test]
fn the_example_config_file_lists_every_key_with_its_default_and_env_name() {
    // Arrange
    let spec: toml::Table = toml::from_str(DOCUMENTED_KEYS).expect("key table parses");
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
