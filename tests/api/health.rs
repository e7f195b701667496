//! `GET /v1/health` (tokens, the Apikey scheme, registration status) and the unauthenticated `GET /__sandbox/health` probe (SPEC §4).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::helpers::*;

const API_KEY: &str = "abcdefghijkl123";
const INVALID_CREDENTIALS: &str = "Missing or invalid authentication credentials";

/// The health body for a gateway status.
fn health_body(status: &str) -> Value {
    json!({
        "health": {"gateway_status": status},
        "meta": {"version": "v2.45.1", "api_status": "stable"}
    })
}

/// `GET /v1/health` with a raw `Authorization` header (or none).
async fn health(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut req = app.request(Method::GET, "/v1/health");
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    req.send().await.expect("health")
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

/// `GET /__sandbox/health` without credentials: asserts 200, a JSON content type and `{"status":"ok"}`.
async fn expect_probe_ok(app: &TestApp) {
    let resp = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("sandbox health");
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = expect_status(resp, StatusCode::OK).await;
    assert!(
        ctype.starts_with("application/json"),
        "content-type {ctype:?}"
    );
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn health_with_an_admin_token_reports_connected() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = health(&app, Some(&format!("Bearer {admin}"))).await;

    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        health_body("connected")
    );
}

#[tokio::test]
async fn health_with_a_user_token_reports_connected() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "alice", "Alice-Pa55!").await;

    let resp = health(&app, Some(&format!("Bearer {user}"))).await;

    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        health_body("connected")
    );
}

#[tokio::test]
async fn health_without_credentials_is_refused_with_1005() {
    let app = TestApp::spawn().await;

    let resp = health(&app, None).await;

    expect_invalid_credentials(resp).await;
}

#[tokio::test]
async fn health_accepts_the_configured_api_key() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__API_KEY", API_KEY)
        .start()
        .await;

    let resp = health(&app, Some(&format!("Apikey {API_KEY}"))).await;

    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        health_body("connected")
    );
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
        let resp = health(&app, Some(&header)).await;

        expect_invalid_credentials(resp).await;
    }
}

#[tokio::test]
async fn health_refuses_the_apikey_scheme_when_no_key_is_configured() {
    let app = TestApp::spawn().await;

    for header in ["Apikey ", "Apikey", "Apikey abcdefghijkl123"] {
        let resp = health(&app, Some(header)).await;

        expect_invalid_credentials(resp).await;
    }
}

#[tokio::test]
async fn health_reports_unregistered_while_the_number_is_not_registered() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_ACCOUNT__REGISTERED", "false")
        .start()
        .await;
    let admin = app.admin_token().await;

    let resp = health(&app, Some(&format!("Bearer {admin}"))).await;

    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        health_body("unregistered")
    );
}

#[tokio::test]
async fn the_sandbox_probe_needs_no_credentials() {
    let app = TestApp::spawn().await;

    expect_probe_ok(&app).await;
}

#[tokio::test]
async fn the_sandbox_probe_needs_no_credentials_when_a_control_token_is_set() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", "control-secret")
        .start()
        .await;

    expect_probe_ok(&app).await;
}

#[tokio::test]
async fn the_sandbox_probe_answers_when_the_control_plane_is_disabled() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__ENABLED", "false")
        .start()
        .await;

    expect_probe_ok(&app).await;
}
