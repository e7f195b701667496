//! Seed files (`--seed FILE`, `state.seed`): the state a server starts from when no
//! state file exists and the state `POST /__sandbox/reset` returns to; an invalid
//! seed is a configuration error (exit 2) naming the file and the problem.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

const SEED: &str = r#"
[admin]
password = "Seeded-Pa55!"
must_change_password = false

[[users]]
username = "alice"
password = "Alice-Pa55!"

[two_step]
pin = "246810"

[account]
registered = false
"#;

/// The state view `SEED` describes.
fn seeded_state() -> Value {
    json!({
        "two_step": {"enabled": true, "updated_at": null},
        "users": [
            {"username": "admin", "roles": "ROLE_ADMIN", "password_change_required": false},
            {"username": "alice", "roles": "ROLE_USER", "password_change_required": false}
        ],
        "tokens": 0,
        "account": {"registered": false},
        "numbers": [first_number_view(false, true)],
        "cloud_tokens": 0
    })
}

/// Writes `text` to `dir/name` and returns the path.
fn write_seed(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write seed");
    path
}

/// Starts a server whose state directory holds the seed file `name` with `text`.
async fn start_seeded(name: &str, text: &str) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let path = write_seed(dir.path(), name, text);
    let mut spawn = TestApp::with().arg("--seed").arg(path.to_str().unwrap());
    spawn.dir = Some(dir);
    spawn.start().await
}

/// Logs in and returns the token, asserting 200.
async fn token(app: &TestApp, user: &str, password: &str) -> String {
    let body = expect_status(app.login(user, password, None).await, 200).await;
    body["users"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// `POST /__sandbox/reset`, asserting 200.
async fn reset(app: &TestApp) -> Value {
    let resp = app.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(resp, 200).await
}

/// The first number's PIN hash in the state file (which exists after any change).
fn stored_pin_hash(app: &TestApp) -> String {
    let text = std::fs::read_to_string(&app.state_path).expect("state file");
    let state: Value = serde_json::from_str(&text).expect("state JSON");
    state["numbers"][0]["two_step"]["pin_hash"]
        .as_str()
        .expect("a PIN hash")
        .to_owned()
}

fn verifies(hash: &str, secret: &str) -> bool {
    let parsed = PasswordHash::new(hash).expect("PHC string");
    Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok()
}

/// Runs the binary with the seed file `text` and asserts it exits 2 naming the file;
/// returns stderr.
fn refused(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_seed(dir.path(), "seed.toml", text);
    let (status, out, err) = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--seed",
            path.to_str().unwrap(),
        ],
        &[],
        dir.path(),
    );
    assert_eq!(status.code(), Some(2), "stdout: {out}; stderr: {err}");
    assert!(out.is_empty(), "no ready line expected, got {out:?}");
    assert!(
        err.contains(path.to_str().unwrap()),
        "stderr does not name the seed file: {err}"
    );
    err
}

#[tokio::test]
async fn a_seeded_server_starts_with_the_declared_users_pin_and_registration() {
    let app = start_seeded("seed.toml", SEED).await;
    assert_eq!(app.sandbox_state().await, seeded_state());
}

#[tokio::test]
async fn seeded_passwords_log_in_and_the_admin_needs_no_password_change() {
    let app = start_seeded("seed.toml", SEED).await;
    token(&app, "admin", "Seeded-Pa55!").await;
    token(&app, "alice", "Alice-Pa55!").await;
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_seeded_user_is_not_an_admin() {
    let app = start_seeded("seed.toml", SEED).await;
    let alice = token(&app, "alice", "Alice-Pa55!").await;
    let resp = app.disable_two_step(&alice).await;
    expect_error(resp, 403, 1005, Some(NO_PERMISSION)).await;
}

#[tokio::test]
async fn the_seeded_pin_is_stored_as_a_hash_of_that_pin() {
    let app = start_seeded("seed.toml", SEED).await;
    // A login is a change, so the state file now exists.
    token(&app, "admin", "Seeded-Pa55!").await;
    let hash = stored_pin_hash(&app);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(verifies(&hash, "246810"));
    assert!(!verifies(&hash, "123456"));
}

#[tokio::test]
async fn reset_returns_to_the_seed() {
    let app = start_seeded("seed.toml", SEED).await;
    let admin = token(&app, "admin", "Seeded-Pa55!").await;
    expect_status(app.disable_two_step(&admin).await, 200).await;
    let resp = app
        .request(Method::DELETE, "/v1/users/alice")
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete alice");
    expect_status(resp, 200).await;
    app.user_token(&admin, "bobby", "Bobby-Pa55!").await;
    let resp = app
        .request(Method::PUT, "/v1/users/admin")
        .bearer_auth(&admin)
        .json(&json!({"password": "Changed-Pa55!"}))
        .send()
        .await
        .expect("change admin password");
    expect_status(resp, 200).await;

    assert_eq!(reset(&app).await, seeded_state());
    assert_eq!(app.sandbox_state().await, seeded_state());
    token(&app, "alice", "Alice-Pa55!").await;
    token(&app, "admin", "Seeded-Pa55!").await;
    assert!(verifies(&stored_pin_hash(&app), "246810"));
}

#[tokio::test]
async fn an_existing_state_file_wins_over_the_seed_at_start() {
    let app = start_seeded("seed.toml", SEED).await;
    let admin = token(&app, "admin", "Seeded-Pa55!").await;
    expect_status(app.disable_two_step(&admin).await, 200).await;
    let app = app.restart().await;
    let state = app.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], false, "{state}");
    assert_eq!(reset(&app).await, seeded_state());
}

#[tokio::test]
async fn a_json_seed_file_is_read_too() {
    let text = json!({
        "admin": {"password": "Seeded-Pa55!", "must_change_password": false},
        "users": [{"username": "alice", "password": "Alice-Pa55!"}],
        "two_step": {"pin": "246810"},
        "account": {"registered": false}
    });
    let app = start_seeded("seed.json", &text.to_string()).await;
    assert_eq!(app.sandbox_state().await, seeded_state());
}

#[tokio::test]
async fn the_seed_can_be_named_in_the_environment() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let path = write_seed(dir.path(), "seed.toml", SEED);
    let mut spawn = TestApp::with().env("WA_TWOSTEP_STATE__SEED", path.to_str().unwrap());
    spawn.dir = Some(dir);
    let app = spawn.start().await;
    assert_eq!(app.sandbox_state().await, seeded_state());
}

#[tokio::test]
async fn absent_seed_keys_keep_the_configured_values() {
    let mut spawn = TestApp::with().env("WA_TWOSTEP_ACCOUNT__REGISTERED", "false");
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let text = "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\n";
    let path = write_seed(dir.path(), "seed.toml", text);
    spawn = spawn.arg("--seed").arg(path.to_str().unwrap());
    spawn.dir = Some(dir);
    let app = spawn.start().await;
    let state = app.sandbox_state().await;
    assert_eq!(state["account"]["registered"], false, "{state}");
    assert_eq!(state["two_step"]["enabled"], false, "{state}");
    assert_eq!(state["users"][0]["password_change_required"], true);
    // The admin still has the configured password and must change it.
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    expect_error(resp, 401, 1024, Some(MUST_CHANGE)).await;
}

#[test]
fn an_unknown_key_in_the_seed_exits_2_naming_it() {
    let err = refused(
        "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\nrole = \"ROLE_ADMIN\"\n",
    );
    assert!(err.contains("users[0].role: unknown field `role`"), "{err}");
}

#[test]
fn an_unknown_section_in_the_seed_exits_2_naming_it() {
    let err = refused("[twostep]\npin = \"123456\"\n");
    assert!(err.contains("unknown field `twostep`"), "{err}");
}

#[test]
fn a_weak_seed_password_exits_2_naming_the_key_and_the_rule() {
    let err = refused("[[users]]\nusername = \"alice\"\npassword = \"alicealice\"\n");
    assert!(
        err.contains("users[0].password: Password doesn't meet complexity requirements"),
        "{err}"
    );
    assert!(!err.contains("alicealice"), "the password leaked: {err}");
}

#[test]
fn a_weak_admin_password_in_the_seed_exits_2() {
    let err = refused("[admin]\npassword = \"password\"\n");
    assert!(
        err.contains("admin.password: Password doesn't meet"),
        "{err}"
    );
}

#[test]
fn a_bad_seed_username_exits_2_naming_it() {
    let err = refused("[[users]]\nusername = \"al ice\"\npassword = \"Alice-Pa55!\"\n");
    assert!(
        err.contains("users[0].username \"al ice\": Username must be 4 to 32 characters"),
        "{err}"
    );
}

#[test]
fn a_duplicate_seed_user_exits_2() {
    let user = "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\n";
    let err = refused(&format!("{user}{user}"));
    assert!(
        err.contains("users[1].username: \"alice\" is declared twice"),
        "{err}"
    );
}

#[test]
fn a_five_digit_seed_pin_exits_2_without_showing_it() {
    let err = refused("[two_step]\npin = \"24681\"\n");
    assert!(
        err.contains("two_step.pin: Pin must be a 6-digit number"),
        "{err}"
    );
    assert!(!err.contains("24681"), "the PIN leaked: {err}");
}

#[test]
fn a_numeric_seed_pin_exits_2_without_showing_it() {
    let err = refused("[two_step]\npin = 246810\n");
    assert!(err.contains("two_step.pin: expected a string"), "{err}");
    assert!(!err.contains("246810"), "the PIN leaked: {err}");
}

#[test]
fn malformed_toml_in_the_seed_exits_2_with_a_position_and_no_secret() {
    let err = refused("[admin]\npassword = \"Hidden-Pa55!\" trailing\n");
    assert!(err.contains("not valid TOML at line 2"), "{err}");
    assert!(!err.contains("Hidden-Pa55!"), "the password leaked: {err}");
}

#[test]
fn a_missing_seed_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("no-such-seed.toml");
    let (status, _out, err) = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--seed",
            path.to_str().unwrap(),
        ],
        &[],
        dir.path(),
    );
    assert_eq!(status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[tokio::test]
async fn an_invalid_seed_exits_2_even_when_a_state_file_exists() {
    let mut app = start_seeded("seed.toml", SEED).await;
    token(&app, "admin", "Seeded-Pa55!").await;
    assert!(app.stop().success());
    let bad = write_seed(app.dir.path(), "bad.toml", "[two_step]\npin = \"abcdef\"\n");
    let (status, _out, err) = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--state",
            app.state_path.to_str().unwrap(),
            "--seed",
            bad.to_str().unwrap(),
        ],
        &[],
        app.dir.path(),
    );
    assert_eq!(status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("two_step.pin"), "{err}");
}
