//! `GET /v1/health` (tokens, the Apikey scheme, registration status) and the unauthenticated `GET /__sandbox/health` probe.

use serde_json::{json, Value};

use crate::support::*;

const API_KEY: &str = "abcdefghijkl123";

/// The health body for a gateway status.
fn health_body(status: &str) -> Value {
    json!({
        "health": {"gateway_status": status},
        "meta": {"version": "v2.45.1", "api_status": "stable"}
    })
}

#[tokio::test]
async fn health_with_an_admin_token_reports_connected() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = app.health_with(Some(&format!("Bearer {admin}"))).await;

    assert_eq!(expect_status(resp, 200).await, health_body("connected"));
}

#[tokio::test]
async fn health_with_a_user_token_reports_connected() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "alice", "Alice-Pa55!").await;

    let resp = app.health_with(Some(&format!("Bearer {user}"))).await;

    assert_eq!(expect_status(resp, 200).await, health_body("connected"));
}

#[tokio::test]
async fn health_without_credentials_is_refused_with_1005() {
    let app = TestApp::spawn().await;

    let resp = app.health_with(None).await;

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn health_accepts_the_configured_api_key() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__API_KEY", API_KEY)
        .start()
        .await;

    let resp = app.health_with(Some(&format!("Apikey {API_KEY}"))).await;

    assert_eq!(expect_status(resp, 200).await, health_body("connected"));
}

#[tokio::test]
async fn health_refuses_a_wrong_api_key() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__API_KEY", API_KEY)
        .start()
        .await;

    for header in [
        "Apikey abcdefghijkl124".to_owned(),
        format!("Apikey {API_KEY}x"),
        "Apikey ".to_owned(),
        format!("Bearer {API_KEY}"),
    ] {
        let resp = app.health_with(Some(&header)).await;

        expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
}

#[tokio::test]
async fn health_refuses_the_apikey_scheme_when_no_key_is_configured() {
    let app = TestApp::spawn().await;

    for header in ["Apikey ", "Apikey", "Apikey abcdefghijkl123"] {
        let resp = app.health_with(Some(header)).await;

        expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
}

#[tokio::test]
async fn health_reports_unregistered_while_the_number_is_not_registered() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_ACCOUNT__REGISTERED", "false")
        .start()
        .await;
    let admin = app.admin_token().await;

    let resp = app.health_with(Some(&format!("Bearer {admin}"))).await;

    assert_eq!(expect_status(resp, 200).await, health_body("unregistered"));
}

#[tokio::test]
async fn the_sandbox_probe_needs_no_credentials() {
    let app = TestApp::spawn().await;

    app.assert_probe_ok().await;
}

#[tokio::test]
async fn the_sandbox_probe_needs_no_credentials_when_a_control_token_is_set() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", "control-secret")
        .start()
        .await;

    app.assert_probe_ok().await;
}

#[tokio::test]
async fn the_sandbox_probe_answers_when_the_control_plane_is_disabled() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__ENABLED", "false")
        .start()
        .await;

    app.assert_probe_ok().await;
}
