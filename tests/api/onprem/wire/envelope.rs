//! The envelope every `/v1` response carries: a JSON body with `meta`, on success
//! and on errors alike, with the configured `api.version`.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn every_v1_response_is_json_and_carries_meta() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // Act
    let success = app.disable_two_step(&admin).await;
    let unauthorized = app.call(Method::DELETE, TWO_STEP, None, None).await;
    let not_found = app.get("/v1/nope").await;

    // Assert
    for (case, resp, status) in [
        ("success", success, 200),
        ("401", unauthorized, 401),
        ("404", not_found, 404),
    ] {
        let r = Reply::of(resp).await;
        assert!(r.is_json(), "case {case}: not JSON: {r:?}");
        let body = r.json();
        assert_eq!(r.status, status, "case {case}: status; body {body}");
        assert_eq!(body["meta"], meta(), "case {case}: meta; body {body}");
    }
}

#[tokio::test]
async fn the_configured_api_version_shows_in_meta() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_API__VERSION", "v9.9.9")
        .start()
        .await;
    let admin = app.admin_token().await;
    let expected = json!({"version": "v9.9.9", "api_status": "stable"});

    // Act
    let success = app.disable_two_step(&admin).await;
    let not_found = app.get("/v1/nope").await;
    let unauthorized = app.call(Method::DELETE, TWO_STEP, None, None).await;

    // Assert
    for (case, resp) in [
        ("success", success),
        ("404", not_found),
        ("401", unauthorized),
    ] {
        let r = Reply::of(resp).await;
        assert!(r.is_json(), "case {case}: not JSON: {r:?}");
        let body = r.json();
        assert_eq!(body["meta"], expected, "case {case}: body {body}");
        if case == "success" {
            assert_eq!(body, json!({"meta": expected}), "success");
        }
    }
}
