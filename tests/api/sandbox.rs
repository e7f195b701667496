//! The sandbox control plane: `/__sandbox/state`, `/__sandbox/reset`, the control token and the start-up guard (SPEC §6); not the journal or faults.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::helpers::*;

const CONTROL_TOKEN: &str = "control-secret-123";
const INVALID_CREDENTIALS: &str = "Missing or invalid authentication credentials";

/// The state body of a fresh server (SPEC §6, default config).
fn seed_state() -> Value {
    json!({
        "two_step": {"enabled": false, "updated_at": null},
        "users": [{"username": "admin", "roles": "ROLE_ADMIN", "password_change_required": true}],
        "tokens": 0,
        "account": {"registered": true}
    })
}

/// A control-plane request with an optional bearer token.
async fn control(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app.request(method, path);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("control request")
}

/// `POST /__sandbox/reset` without a control token, asserting 200 and returning the body.
async fn reset(app: &TestApp) -> Value {
    let resp = control(app, Method::POST, "/__sandbox/reset", None).await;
    expect_status(resp, StatusCode::OK).await
}

/// Asserts 401/1005 with the invalid-credentials details.
#[track_caller]
fn expect_invalid_credentials(resp: reqwest::Response) -> impl std::future::Future<Output = ()> {
    let fut = expect_error(resp, StatusCode::UNAUTHORIZED, 1005);
    async move {
        let body = fut.await;
        assert_eq!(
            body["errors"][0]["details"], INVALID_CREDENTIALS,
            "body: {body}"
        );
    }
}

/// Asserts 404/1006 `URL path not found`.
#[track_caller]
fn expect_path_not_found(resp: reqwest::Response) -> impl std::future::Future<Output = ()> {
    let fut = expect_error(resp, StatusCode::NOT_FOUND, 1006);
    async move {
        let body = fut.await;
        assert_eq!(
            body["errors"][0]["details"], "URL path not found",
            "body: {body}"
        );
    }
}

/// `GET /v1/health` with a bearer token.
async fn health(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::GET, "/v1/health")
        .bearer_auth(token)
        .send()
        .await
        .expect("health")
}

/// Fails if any string anywhere in `v` (keys or values) mentions an argon2 hash.
fn assert_no_hash(v: &Value) {
    let text = v.to_string();
    assert!(!text.contains("$argon2"), "state exposes a hash: {text}");
}

/// Asserts `s` is RFC 3339 UTC with at least millisecond precision:
/// `YYYY-MM-DDTHH:MM:SS.fff[...]` then `Z` or `+00:00`.
fn assert_rfc3339_millis(s: &str) {
    let ok = (|| {
        let (head, rest) = s.split_at_checked(20)?;
        let shape = "9999-99-99T99:99:99.";
        let head_ok = head.bytes().zip(shape.bytes()).all(|(c, p)| match p {
            b'9' => c.is_ascii_digit(),
            _ => c == p,
        });
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let zone = &rest[digits..];
        Some(head_ok && (3..=9).contains(&digits) && (zone == "Z" || zone == "+00:00"))
    })()
    .unwrap_or(false);
    assert!(ok, "updated_at {s:?} is not RFC 3339 UTC with milliseconds");
}

/// Finds the entry for `username` in the state's `users`.
fn user<'a>(state: &'a Value, username: &str) -> &'a Value {
    state["users"]
        .as_array()
        .expect("users array")
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} missing from state: {state}"))
}

// ---------------------------------------------------------------- state

#[tokio::test]
async fn a_fresh_server_reports_the_seed_state() {
    let app = TestApp::spawn().await;

    let state = app.sandbox_state().await;

    assert_eq!(state, seed_state());
    assert_no_hash(&state);
}

#[tokio::test]
async fn the_state_reflects_a_login_and_a_pin() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = app.set_pin(&admin, json!({"pin": "123456"})).await;
    expect_status(resp, StatusCode::OK).await;
    let state = app.sandbox_state().await;

    assert_eq!(state["tokens"], 1, "state: {state}");
    assert_eq!(state["two_step"]["enabled"], true, "state: {state}");
    assert_rfc3339_millis(
        state["two_step"]["updated_at"]
            .as_str()
            .expect("updated_at string"),
    );
    assert_eq!(
        state["users"],
        json!([{"username": "admin", "roles": "ROLE_ADMIN", "password_change_required": false}])
    );
    assert_eq!(state["account"], json!({"registered": true}));
    assert_no_hash(&state);
    assert!(
        !state.to_string().contains("123456"),
        "state shows the PIN: {state}"
    );
    assert!(
        !state.to_string().contains(&admin),
        "state shows a token: {state}"
    );
}

#[tokio::test]
async fn the_state_lists_created_users_without_a_change_requirement() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_token(&admin, "alice", "Alice-Pa55!").await;

    let state = app.sandbox_state().await;

    assert_eq!(
        state["users"].as_array().map(Vec::len),
        Some(2),
        "state: {state}"
    );
    assert_eq!(
        user(&state, "alice"),
        &json!({"username": "alice", "roles": "ROLE_USER", "password_change_required": false})
    );
    assert_eq!(state["tokens"], 2, "state: {state}");
    assert_no_hash(&state);
}

#[tokio::test]
async fn the_token_count_follows_logins_and_logouts() {
    let app = TestApp::spawn().await;
    let first = app.admin_token().await;
    let _second = app.admin_token().await;
    assert_eq!(app.sandbox_state().await["tokens"], 2);

    let resp = app
        .request(Method::POST, "/v1/users/logout")
        .bearer_auth(&first)
        .send()
        .await
        .expect("logout");
    expect_status(resp, StatusCode::OK).await;

    assert_eq!(app.sandbox_state().await["tokens"], 1);
}

// ---------------------------------------------------------------- reset

#[tokio::test]
async fn reset_returns_the_seed_state() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    expect_status(
        app.set_pin(&admin, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;
    app.user_token(&admin, "alice", "Alice-Pa55!").await;

    let body = reset(&app).await;

    assert_eq!(body, seed_state());
    assert_eq!(app.sandbox_state().await, seed_state());
}

#[tokio::test]
async fn after_a_reset_old_tokens_and_passwords_are_gone() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let alice = app.user_token(&admin, "alice", "Alice-Pa55!").await;

    reset(&app).await;

    for token in [&admin, &alice] {
        let body = expect_error(health(&app, token).await, StatusCode::UNAUTHORIZED, 1005).await;
        assert_eq!(body["errors"][0]["details"], INVALID_CREDENTIALS);
    }
    let changed = app.login("admin", ADMIN_PASSWORD, None).await;
    assert_eq!(changed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(changed.text().await.expect("body"), "");
    let seed = app.login("admin", SEED_PASSWORD, None).await;
    let body = expect_error(seed, StatusCode::UNAUTHORIZED, 1024).await;
    assert_eq!(body["errors"][0]["details"], "Password must be changed");
    let alice_login = app.login("alice", "Alice-Pa55!", None).await;
    assert_eq!(alice_login.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_reset_survives_a_restart() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    expect_status(
        app.set_pin(&admin, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;
    reset(&app).await;

    let app = app.restart().await;

    assert_eq!(app.sandbox_state().await, seed_state());
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, 1024).await;
    expect_status(
        app.login(
            "admin",
            SEED_PASSWORD,
            Some(json!({"new_password": ADMIN_PASSWORD})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

// ---------------------------------------------------------------- control token

/// A server whose control plane needs `Bearer CONTROL_TOKEN`.
async fn protected_app() -> TestApp {
    TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await
}

#[tokio::test]
async fn with_a_control_token_state_without_it_is_refused_with_401() {
    let app = protected_app().await;

    let resp = control(&app, Method::GET, "/__sandbox/state", None).await;

    expect_invalid_credentials(resp).await;
}

#[tokio::test]
async fn with_a_control_token_a_wrong_bearer_is_refused_with_401() {
    let app = protected_app().await;
    let api_token = app.admin_token().await;

    for wrong in [
        "control-secret-12",
        "control-secret-1234",
        api_token.as_str(),
    ] {
        let resp = control(&app, Method::GET, "/__sandbox/state", Some(wrong)).await;

        expect_invalid_credentials(resp).await;
    }
}

#[tokio::test]
async fn with_a_control_token_the_right_bearer_reads_the_state() {
    let app = protected_app().await;

    let resp = control(&app, Method::GET, "/__sandbox/state", Some(CONTROL_TOKEN)).await;

    assert_eq!(expect_status(resp, StatusCode::OK).await, seed_state());
}

#[tokio::test]
async fn with_a_control_token_reset_without_it_changes_nothing() {
    let app = protected_app().await;
    let admin = app.admin_token().await;

    let missing = control(&app, Method::POST, "/__sandbox/reset", None).await;
    let wrong = control(&app, Method::POST, "/__sandbox/reset", Some("nope")).await;

    expect_invalid_credentials(missing).await;
    expect_invalid_credentials(wrong).await;
    expect_status(health(&app, &admin).await, StatusCode::OK).await;
}

#[tokio::test]
async fn with_a_control_token_the_right_bearer_resets() {
    let app = protected_app().await;
    let admin = app.admin_token().await;

    let resp = control(&app, Method::POST, "/__sandbox/reset", Some(CONTROL_TOKEN)).await;

    assert_eq!(expect_status(resp, StatusCode::OK).await, seed_state());
    expect_error(health(&app, &admin).await, StatusCode::UNAUTHORIZED, 1005).await;
}

#[tokio::test]
async fn a_disabled_control_plane_answers_404() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__ENABLED", "false")
        .start()
        .await;
    let admin = app.admin_token().await;

    let state = control(&app, Method::GET, "/__sandbox/state", None).await;
    let reset = control(&app, Method::POST, "/__sandbox/reset", None).await;

    expect_path_not_found(state).await;
    expect_path_not_found(reset).await;
    expect_status(health(&app, &admin).await, StatusCode::OK).await;
}

// ---------------------------------------------------------------- start-up guard

#[tokio::test]
async fn a_non_loopback_listen_with_an_unprotected_control_plane_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");

    let (status, stdout, stderr) =
        run_to_exit(&["--listen", "0.0.0.0:0", "--ephemeral"], &[], dir.path());

    assert_eq!(status.code(), Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("listening on"), "stdout: {stdout}");
    assert!(
        !stderr.is_empty(),
        "the refusal must be explained on stderr"
    );
}

/// Starts a server listening on `0.0.0.0:0` (ephemeral state) with extra environment.
async fn start_on_all_interfaces(env: (&str, &str)) -> TestApp {
    let mut spawn = TestApp::with()
        .arg("--listen")
        .arg("0.0.0.0:0")
        .arg("--ephemeral")
        .env(env.0, env.1);
    spawn.no_listen_flag = true;
    spawn.no_state_flag = true;
    spawn.start().await
}

/// `GET /__sandbox/health` on 127.0.0.1 at the server's port, asserting 200 `{"status":"ok"}`.
async fn expect_loopback_probe_ok(app: &TestApp) {
    let url = format!("http://127.0.0.1:{}/__sandbox/health", app.addr.port());
    let resp = app.client.get(url).send().await.expect("probe");
    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn a_non_loopback_listen_with_a_control_token_starts() {
    let app = start_on_all_interfaces(("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)).await;

    assert!(
        app.addr.ip().is_unspecified(),
        "ready line address {}",
        app.addr
    );
    expect_loopback_probe_ok(&app).await;
}

#[tokio::test]
async fn a_non_loopback_listen_with_the_control_plane_disabled_starts() {
    let app = start_on_all_interfaces(("WA_TWOSTEP_CONTROL__ENABLED", "false")).await;

    expect_loopback_probe_ok(&app).await;
}
