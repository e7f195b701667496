//! Registration: the two-step PIN guards re-registration.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn register(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/v1/account")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("register")
}

fn number(pin: Option<&str>) -> Value {
    let mut body =
        json!({"cc": "1", "phone_number": "5550100", "method": "sms", "cert": "Y2VydA=="});
    if let Some(pin) = pin {
        body["pin"] = json!(pin);
    }
    body
}

#[tokio::test]
async fn re_registering_the_registered_number_without_two_step_is_201_and_another_number_is_202() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    let same = register(&app, &token, number(Some("999999"))).await;
    let other = register(
        &app,
        &token,
        json!({"cc": "44", "phone_number": "7700900", "method": "voice", "cert": "Y2VydA=="}),
    )
    .await;

    let body = expect_status(same, 201).await;
    assert_eq!(body["meta"]["api_status"], "stable");
    let body = expect_status(other, 202).await;
    assert_eq!(body["account"][0]["vname"], "Sandbox Business");
}

#[tokio::test]
async fn missing_and_malformed_fields_are_1008_and_1009() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let cases = [
        (json!({}), 1008, "Missing mandatory parameter 'cc'"),
        (
            json!({"cc": "1"}),
            1008,
            "Missing mandatory parameter 'phone_number'",
        ),
        (
            json!({"cc": "1", "phone_number": "5"}),
            1008,
            "Missing mandatory parameter 'method'",
        ),
        (
            json!({"cc": "1", "phone_number": "5", "method": "sms"}),
            1008,
            "Missing mandatory parameter 'cert'",
        ),
        (
            json!({"cc": "x1", "phone_number": "5", "method": "sms", "cert": "Y2VydA=="}),
            1009,
            "Parameter 'cc' must be 1 to 3 digits",
        ),
        (
            json!({"cc": "1", "phone_number": "55-5", "method": "sms", "cert": "Y2VydA=="}),
            1009,
            "Parameter 'phone_number' must be digits",
        ),
        (
            json!({"cc": "1", "phone_number": "5", "method": "fax", "cert": "Y2VydA=="}),
            1009,
            "Parameter 'method' must be 'sms' or 'voice'",
        ),
        (
            json!({"cc": "1", "phone_number": "5", "method": "sms", "cert": "not base64!"}),
            1009,
            "Parameter 'cert' must be base64",
        ),
    ];
    for (body, code, details) in cases {
        let resp = register(&app, &token, body.clone()).await;
        expect_error(resp, 400, code, Some(details)).await;
    }
}

#[tokio::test]
async fn with_two_step_on_the_pin_is_required_and_must_match() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    let missing = register(&app, &token, number(None)).await;
    let malformed = register(&app, &token, number(Some("12"))).await;
    let wrong = register(&app, &token, number(Some("135791"))).await;
    let right = register(&app, &token, number(Some("246810"))).await;

    expect_error(
        missing,
        400,
        1008,
        Some("Missing mandatory parameter 'pin'"),
    )
    .await;
    expect_error(malformed, 400, 1009, Some("Pin must be a 6-digit number")).await;
    expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    expect_status(right, 201).await;
}

#[tokio::test]
async fn too_many_wrong_pins_are_refused_with_429_even_with_the_right_pin() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "2")
        .start()
        .await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    for _ in 0..2 {
        let wrong = register(&app, &token, number(Some("135791"))).await;
        expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    }
    let blocked = register(&app, &token, number(Some("246810"))).await;

    expect_error(
        blocked,
        429,
        1015,
        Some("Too many two-step verification PIN guesses"),
    )
    .await;
}

#[tokio::test]
async fn verifying_the_code_registers_the_number_durably() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_ACCOUNT__REGISTERED", "false")
        .start()
        .await;
    let token = app.admin_token().await;
    let verify = |code: &'static str| {
        app.request(Method::POST, "/v1/account/verify")
            .bearer_auth(&token)
            .json(&json!({"code": code}))
            .send()
    };

    let wrong = verify("000000").await.expect("verify");
    expect_error(wrong, 400, 1009, Some("Verification code is not valid")).await;
    assert_eq!(app.sandbox_state().await["account"]["registered"], false);
    let right = verify("123456").await.expect("verify");
    expect_status(right, 201).await;

    let app = app.restart().await;
    assert_eq!(app.sandbox_state().await["account"]["registered"], true);
    let health = app
        .request(Method::GET, "/v1/health")
        .bearer_auth(&token)
        .send()
        .await
        .expect("health");
    let body = expect_status(health, 200).await;
    assert_eq!(body["health"]["gateway_status"], "connected");
}

#[tokio::test]
async fn registration_is_admin_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "alice", "Alice-Pa55!").await;

    let resp = register(&app, &user, number(None)).await;
    let verify = app
        .request(Method::POST, "/v1/account/verify")
        .bearer_auth(&user)
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .expect("verify");

    expect_error(resp, 403, 1005, Some(NO_PERMISSION)).await;
    expect_error(verify, 403, 1005, Some(NO_PERMISSION)).await;
}
