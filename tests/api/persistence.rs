//! State and durability (SPEC §8): what survives a restart, what the state file looks like,
//! start-up refusals (corrupt file, held lock), failed writes and concurrent changes.
//! Black-box only: these tests read the state directory but never write the server's files
//! except to simulate corruption or a broken disk before/while the server runs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::helpers::*;

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

/// `GET /v1/users/{name}` with `token`.
async fn get_user(app: &TestApp, token: &str, name: &str) -> reqwest::Response {
    app.request(Method::GET, &format!("/v1/users/{name}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get user")
}

#[tokio::test]
async fn a_pin_survives_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(
        app.set_pin(&token, json!({"pin": "246810"})).await,
        StatusCode::OK,
    )
    .await;
    let before = app.sandbox_state().await;

    // Act
    let app = app.restart().await;

    // Assert
    let after = app.sandbox_state().await;
    assert_eq!(
        after["two_step"]["enabled"], true,
        "state after restart: {after}"
    );
    assert_eq!(
        after["two_step"]["updated_at"], before["two_step"]["updated_at"],
        "updated_at changed across the restart"
    );
}

#[tokio::test]
async fn a_token_issued_before_a_restart_still_works_after_it() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(
        app.set_pin(&token, json!({"pin": "246810"})).await,
        StatusCode::OK,
    )
    .await;

    // Act
    let app = app.restart().await;
    let resp = app.disable_two_step(&token).await;

    // Assert
    expect_status(resp, StatusCode::OK).await;
    let state = app.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], false, "state: {state}");
}

#[tokio::test]
async fn the_new_admin_password_survives_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    app.admin_token().await; // changes the seed password to ADMIN_PASSWORD

    // Act
    let app = app.restart().await;

    // Assert
    let resp = app.login("admin", ADMIN_PASSWORD, None).await;
    let body = expect_status(resp, StatusCode::OK).await;
    assert!(body["users"][0]["token"].is_string(), "login body: {body}");
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "the seed password works again after a restart"
    );
    let state = app.sandbox_state().await;
    let admin = state["users"]
        .as_array()
        .expect("users array")
        .iter()
        .find(|u| u["username"] == "admin")
        .expect("admin in state")
        .clone();
    assert_eq!(admin["password_change_required"], false, "state: {state}");
}

#[tokio::test]
async fn the_pin_set_before_a_restart_still_guards_re_registration() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(
        app.set_pin(&token, json!({"pin": "246810"})).await,
        StatusCode::OK,
    )
    .await;
    let app = app.restart().await;
    let register = |pin: &str| {
        app.request(Method::POST, "/v1/account")
            .bearer_auth(&token)
            .json(
                &json!({"cc": "1", "phone_number": "5550100", "method": "sms",
                          "cert": "Y2VydA==", "pin": pin}),
            )
            .send()
    };

    // Act
    let wrong = register("135791").await.expect("register with wrong pin");
    let right = register("246810").await.expect("register with right pin");

    // Assert
    let body = expect_error(wrong, StatusCode::BAD_REQUEST, 1009).await;
    assert_eq!(
        body["errors"][0]["details"],
        "Two-step verification PIN mismatch"
    );
    assert!(
        right.status() == StatusCode::CREATED || right.status() == StatusCode::ACCEPTED,
        "the PIN set before the restart was not accepted: {}",
        right.status()
    );
}

#[tokio::test]
async fn the_state_file_does_not_exist_before_the_first_change() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act: requests that change nothing
    app.sandbox_state().await;
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("health");
    expect_status(resp, StatusCode::OK).await;
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
    expect_status(
        app.set_pin(&admin, json!({"pin": "482915"})).await,
        StatusCode::OK,
    )
    .await;

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
    expect_status(
        app.set_pin(&token, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;
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
    expect_error(failed, StatusCode::INTERNAL_SERVER_ERROR, 1014).await;
    assert_eq!(
        during["two_step"], before["two_step"],
        "a failed write changed memory"
    );
    expect_status(disable, StatusCode::OK).await;
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
    expect_status(resp, StatusCode::OK).await;
    let app = app.restart().await;
    let state = app.sandbox_state().await;
    assert_eq!(
        state["two_step"]["enabled"], true,
        "state after recovery and restart: {state}"
    );
}

#[tokio::test]
async fn concurrent_pin_changes_are_all_acknowledged_and_the_final_state_survives_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    // Act
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let client = app.client.clone();
        let url = app.url(TWO_STEP);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let req = if i % 2 == 0 {
                client
                    .post(&url)
                    .json(&json!({"pin": format!("{:06}", 100_000 + i)}))
            } else {
                client.delete(&url)
            };
            let resp = req.bearer_auth(&token).send().await.expect("request");
            let status = resp.status();
            (i, status, resp.text().await.unwrap_or_default())
        }));
    }
    for task in tasks {
        let (i, status, body) = task.await.expect("join");
        assert_eq!(
            status,
            StatusCode::OK,
            "request {i} not acknowledged: {body}"
        );
    }
    let before = app.sandbox_state().await;
    let app = app.restart().await;

    // Assert
    let after = app.sandbox_state().await;
    assert!(
        !before["two_step"]["updated_at"].is_null(),
        "no change recorded: {before}"
    );
    assert_eq!(
        after, before,
        "state after restart differs from the state before it"
    );
}

#[tokio::test]
async fn concurrently_created_users_all_survive_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let names: Vec<String> = (0..20).map(|i| format!("user{i:02}")).collect();
    let password = "Us3r-Passw0rd!";

    // Act
    let mut tasks = Vec::new();
    for name in &names {
        let req = app
            .request(Method::POST, "/v1/users")
            .bearer_auth(&token)
            .json(&json!({"username": name, "password": password}));
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            let resp = req.send().await.expect("create user");
            let status = resp.status();
            (name, status, resp.text().await.unwrap_or_default())
        }));
    }
    for task in tasks {
        let (name, status, body) = task.await.expect("join");
        assert_eq!(status, StatusCode::CREATED, "creating {name}: {body}");
    }
    let app = app.restart().await;

    // Assert
    for name in &names {
        let body = expect_status(get_user(&app, &token, name).await, StatusCode::OK).await;
        assert_eq!(body["users"][0]["username"], name.as_str(), "body: {body}");
        assert_eq!(body["users"][0]["roles"], "ROLE_USER", "body: {body}");
        let resp = app.login(name, password, None).await;
        expect_status(resp, StatusCode::OK).await;
    }
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
    expect_status(
        app.set_pin(&token, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;

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

#[tokio::test]
async fn ephemeral_state_starts_from_the_seed_after_a_restart() {
    // Arrange
    let mut spawn = TestApp::with().arg("--ephemeral");
    spawn.no_state_flag = true;
    let app = spawn.start().await;
    let token = app.admin_token().await;
    expect_status(
        app.set_pin(&token, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;

    // Act
    let app = app.restart().await;

    // Assert
    let state = app.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], false, "state: {state}");
    assert_eq!(
        state["two_step"]["updated_at"],
        Value::Null,
        "state: {state}"
    );
    assert_eq!(state["tokens"], 0, "state: {state}");
    let resp = app.disable_two_step(&token).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, 1005).await;
}
