//! The state file itself: not written before the first change, private JSON with
//! hashes and no secrets; a corrupt or unknown file or a held lock stops the start;
//! a failed write answers 500; ephemeral mode writes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

/// Permission bits (without the file type) of `path`.
fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every regular file in `dir` whose name starts with `prefix`.
fn files_starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read state dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && entry.file_type().expect("file type").is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

/// Starts a server whose state file is `state` (instead of the harness's `<dir>/state.json`),
/// with `dir` as its working directory.
async fn start_with_state_path(dir: Arc<tempfile::TempDir>, state: &Path) -> TestApp {
    let mut spawn = TestApp::with()
        .arg("--state")
        .arg(state.display().to_string());
    spawn.no_state_flag = true;
    spawn.dir = Some(dir);
    spawn.start().await
}

#[tokio::test]
async fn the_state_file_does_not_exist_before_the_first_change() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act: requests that change nothing
    app.sandbox_state().await;
    app.get_ok("/__sandbox/health").await;
    let resp = app.login("admin", "wrong-password", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Assert
    assert!(
        !app.state_path.exists(),
        "state file created without a change"
    );
    app.admin_token().await;
    assert!(
        app.state_path.exists(),
        "state file not created by the first change"
    );
}

#[tokio::test]
async fn the_state_file_is_private_json_with_hashes_and_no_secrets() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user_password = "Alice-Pa55word!";
    let user = app.user_token(&admin, "alice01", user_password).await;

    // Act
    expect_status(app.set_pin(&admin, json!({"pin": "482915"})).await, 200).await;

    // Assert
    assert_eq!(mode_of(&app.state_path), 0o600, "state file mode");
    let text = std::fs::read_to_string(&app.state_path).expect("read state file");
    let parsed: Result<Value, _> = serde_json::from_str(&text);
    assert!(parsed.is_ok(), "state file is not JSON: {text}");
    assert!(
        text.contains("$argon2id$"),
        "no argon2id hash in the state file: {text}"
    );
    for file in files_starting_with(app.dir.path(), "state.json") {
        assert_eq!(mode_of(&file), 0o600, "mode of {}", file.display());
        let bytes = std::fs::read(&file).expect("read companion file");
        let content = String::from_utf8_lossy(&bytes);
        for (what, secret) in [
            ("PIN", "482915"),
            ("admin password", ADMIN_PASSWORD),
            ("user password", user_password),
            ("admin token", admin.as_str()),
            ("user token", user.as_str()),
        ] {
            assert!(
                !content.contains(secret),
                "{what} in clear in {}",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn a_corrupt_state_file_stops_the_start_with_exit_1_and_is_left_unchanged() {
    // Arrange
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, b"{not json").expect("write corrupt state");
    let path_str = path.display().to_string();

    // Act
    let (status, _out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--state", &path_str],
        &[],
        dir.path(),
    );

    // Assert
    assert_eq!(status.code(), Some(1), "exit status; stderr: {err}");
    assert!(
        err.contains(&path_str),
        "stderr does not name {path_str}: {err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read state"),
        b"{not json",
        "state file was changed"
    );
}

#[tokio::test]
async fn a_state_file_with_an_unknown_schema_stops_the_start_with_exit_1_and_is_left_unchanged() {
    // Arrange: valid JSON, but not a state this server knows
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let content = br#"{"schema": 999, "schema_version": 999, "version": 999}"#;
    std::fs::write(&path, content).expect("write state");
    let path_str = path.display().to_string();

    // Act
    let (status, _out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--state", &path_str],
        &[],
        dir.path(),
    );

    // Assert
    assert_eq!(status.code(), Some(1), "exit status; stderr: {err}");
    assert!(
        err.contains(&path_str),
        "stderr does not name {path_str}: {err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read state"),
        content,
        "state file was changed"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_state_path_refuses_to_start() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await; // the state file now exists
    let path_str = app.state_path.display().to_string();

    // Act
    let (status, _out, err) = run_to_exit(
        &["--listen", "127.0.0.1:0", "--state", &path_str],
        &[],
        app.dir.path(),
    );

    // Assert
    assert_eq!(status.code(), Some(1), "exit status; stderr: {err}");
    assert!(
        err.to_lowercase().contains("lock"),
        "stderr does not mention the lock: {err}"
    );
    assert!(
        err.contains(&path_str),
        "stderr does not name {path_str}: {err}"
    );
    expect_status(app.set_pin(&token, json!({"pin": "123456"})).await, 200).await;
    let state = app.sandbox_state().await;
    assert_eq!(
        state["two_step"]["enabled"], true,
        "first server stopped serving: {state}"
    );
}

#[tokio::test]
async fn a_failed_write_answers_500_and_leaves_the_state_as_it_was() {
    // Arrange: the state file lives in `sub/`, which we can turn into a regular file
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir sub");
    let state = sub.join("state.json");
    let app = start_with_state_path(dir.clone(), &state).await;
    let token = app.admin_token().await; // login writes (token digest)
    assert!(state.exists(), "login did not create the state file");
    let saved: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&sub)
        .expect("read sub")
        .map(|e| {
            let p = e.expect("entry").path();
            let bytes = std::fs::read(&p).expect("read saved file");
            (p, bytes)
        })
        .collect();
    let before = app.sandbox_state().await;
    std::fs::remove_dir_all(&sub).expect("remove sub");
    std::fs::write(&sub, b"not a directory").expect("write file named sub");

    // Act
    let failed = app.set_pin(&token, json!({"pin": "123456"})).await;
    let during = app.sandbox_state().await;
    let disable = app.disable_two_step(&token).await;

    // Assert
    expect_error(failed, 500, 1014, None).await;
    assert_eq!(
        during["two_step"], before["two_step"],
        "a failed write changed memory"
    );
    expect_status(disable, 200).await;
    let after_disable = app.sandbox_state().await;
    assert_eq!(after_disable["two_step"], before["two_step"]);

    // Arrange: the disk comes back
    std::fs::remove_file(&sub).expect("remove file sub");
    std::fs::create_dir(&sub).expect("mkdir sub again");
    for (path, bytes) in &saved {
        std::fs::write(path, bytes).expect("restore file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    // Act
    let resp = app.set_pin(&token, json!({"pin": "123456"})).await;

    // Assert
    expect_status(resp, 200).await;
    let app = app.restart().await;
    let state = app.sandbox_state().await;
    assert_eq!(
        state["two_step"]["enabled"], true,
        "state after recovery and restart: {state}"
    );
}

#[tokio::test]
async fn ephemeral_mode_writes_nothing_to_disk() {
    // Arrange
    let mut spawn = TestApp::with().arg("--ephemeral");
    spawn.no_state_flag = true;
    let app = spawn.start().await;

    // Act
    let token = app.admin_token().await;
    app.user_token(&token, "bob-the-user", "B0b-Passw0rd!")
        .await;
    expect_status(app.set_pin(&token, json!({"pin": "123456"})).await, 200).await;

    // Assert
    let state = app.sandbox_state().await;
    assert_eq!(
        state["two_step"]["enabled"], true,
        "the change did not happen in memory"
    );
    let written: Vec<String> = std::fs::read_dir(app.dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "stderr.log")
        .collect();
    assert!(written.is_empty(), "ephemeral server wrote {written:?}");
}
