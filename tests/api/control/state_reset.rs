//! The control plane's state and reset: `GET /__sandbox/state` (no hashes, no
//! secrets) and `POST /__sandbox/reset` back to the seed. The control token is in
//! `control_token`, the journal and faults in their own modules.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

/// The state body of a fresh server (default config).
pub(super) fn seed_state() -> Value {
    json!({
        "two_step": {"enabled": false, "updated_at": null},
        "users": [{"username": "admin", "roles": "ROLE_ADMIN", "password_change_required": true}],
        "tokens": 0,
        "account": {"registered": true},
        "numbers": [first_number_view(true, false)],
        "cloud_tokens": 0
    })
}

/// `POST /__sandbox/reset` without a control token, asserting 200 and returning the body.
pub(super) async fn reset(app: &TestApp) -> Value {
    let resp = app.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(resp, 200).await
}

/// Fails if any string anywhere in `v` (keys or values) mentions an argon2 hash.
fn assert_no_hash(v: &Value) {
    let text = v.to_string();
    assert!(!text.contains("$argon2"), "state exposes a hash: {text}");
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
    expect_status(resp, 200).await;
    let state = app.sandbox_state().await;

    assert_eq!(state["tokens"], 1, "state: {state}");
    assert_eq!(state["two_step"]["enabled"], true, "state: {state}");
    let updated_at = state["two_step"]["updated_at"].as_str();
    assert!(
        updated_at.is_some_and(is_rfc3339_utc_millis),
        "updated_at {updated_at:?} is not RFC 3339 UTC with milliseconds"
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
    expect_status(resp, 200).await;

    assert_eq!(app.sandbox_state().await["tokens"], 1);
}

// ---------------------------------------------------------------- reset

#[tokio::test]
async fn reset_returns_the_seed_state() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    expect_status(app.set_pin(&admin, json!({"pin": "123456"})).await, 200).await;
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
        expect_error(app.health(token).await, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
    let changed = app.login("admin", ADMIN_PASSWORD, None).await;
    assert_eq!(changed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(changed.text().await.expect("body"), "");
    let seed = app.login("admin", SEED_PASSWORD, None).await;
    expect_error(seed, 401, 1024, Some(MUST_CHANGE)).await;
    let alice_login = app.login("alice", "Alice-Pa55!", None).await;
    assert_eq!(alice_login.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_reset_survives_a_restart() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    expect_status(app.set_pin(&admin, json!({"pin": "123456"})).await, 200).await;
    reset(&app).await;

    let app = app.restart().await;

    assert_eq!(app.sandbox_state().await, seed_state());
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    expect_error(resp, 401, 1024, Some(MUST_CHANGE)).await;
    expect_status(
        app.login(
            "admin",
            SEED_PASSWORD,
            Some(json!({"new_password": ADMIN_PASSWORD})),
        )
        .await,
        200,
    )
    .await;
}
