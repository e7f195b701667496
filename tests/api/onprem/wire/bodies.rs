//! Request bodies: malformed JSON is 400 / 1025 with a reason, and a `DELETE`
//! ignores whatever body and content type it comes with.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn malformed_json_is_rejected_with_1025() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("truncated object", r#"{"pin": "123456""#),
        ("unquoted key", r#"{pin: "123456"}"#),
        ("not JSON at all", "pin=123456"),
        ("trailing garbage", r#"{"pin": "123456"} x"#),
        ("single quotes", "{'pin': '123456'}"),
    ];
    let mut failures = Failures::default();
    for (case, body) in cases {
        // Act
        let resp = app
            .request(Method::POST, TWO_STEP)
            .bearer_auth(&admin)
            .header("content-type", JSON)
            .body(body)
            .send()
            .await
            .expect("request");
        // Assert
        failures.decode_error(case, &Reply::of(resp).await);
    }
    failures.assert_none();
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], false);
}

#[tokio::test]
async fn a_delete_with_a_body_ignores_the_body() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("JSON {}", JSON, "{}"),
        ("garbage with JSON content type", JSON, "{not json"),
        ("JSON with a pin", JSON, r#"{"pin":"1"}"#),
        ("garbage as text/plain", "text/plain", "\u{1}garbage"),
    ];
    for (case, ctype, body) in cases {
        expect_status(app.set_pin(&admin, json!({"pin": "123456"})).await, 200).await;
        // Act
        let resp = app
            .request(Method::DELETE, TWO_STEP)
            .bearer_auth(&admin)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .expect("request");
        // Assert
        let mut failures = Failures::default();
        failures.success(case, &Reply::of(resp).await, &meta_only());
        failures.assert_none();
        let state = app.sandbox_state().await;
        assert_eq!(
            state["two_step"]["enabled"], false,
            "case {case}: not disabled: {state}"
        );
    }
}
