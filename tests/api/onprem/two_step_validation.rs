//! Two-step PIN validation and check order: a missing, falsy or malformed PIN is
//! 400 with its own details; a missing or invalid token is 401 and a non-admin 403,
//! both before the body is decoded. A rejected request never changes two-step.

use reqwest::Method;
use serde_json::json;

use super::two_step::{post_raw, two_step_state};
use crate::support::*;

#[tokio::test]
async fn a_request_without_a_pin_is_rejected_with_1008() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases: [(&str, Option<&str>, &str); 13] = [
        ("empty JSON object", Some(JSON), "{}"),
        (
            "other keys only",
            Some(JSON),
            r#"{"PIN":"123456","code":"123456"}"#,
        ),
        ("no body, JSON content type", Some(JSON), ""),
        ("no body, no content type", None, ""),
        (
            "JSON body sent as text/plain",
            Some("text/plain"),
            r#"{"pin":"123456"}"#,
        ),
        (
            "JSON body without content type",
            None,
            r#"{"pin":"123456"}"#,
        ),
        (
            "JSON body with upper-case media type",
            Some("Application/JSON"),
            r#"{"pin":"123456"}"#,
        ),
        ("JSON array body", Some(JSON), r#"[{"pin":"123456"}]"#),
        ("JSON string body", Some(JSON), r#""123456""#),
        ("JSON number body", Some(JSON), "123456"),
        ("JSON null body", Some(JSON), "null"),
        ("JSON true body", Some(JSON), "true"),
        ("JSON false body", Some(JSON), "false"),
    ];
    let mut failures = Failures::default();
    for (case, ctype, body) in cases {
        // Act
        let got = Reply::of(post_raw(&app, Some(&admin), ctype, body).await).await;
        // Assert
        failures.error(case, &got, 400, 1008, Some(MISSING_PIN));
    }
    failures.assert_none();
    assert_eq!(
        two_step_state(&app).await["enabled"],
        false,
        "a rejected request enabled two-step"
    );
}

#[tokio::test]
async fn a_falsy_pin_is_rejected_with_1009_must_not_be_empty() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("empty string", r#"{"pin":""}"#),
        ("string zero", r#"{"pin":"0"}"#),
        ("integer zero", r#"{"pin":0}"#),
        ("float zero", r#"{"pin":0.0}"#),
        ("null", r#"{"pin":null}"#),
        ("false", r#"{"pin":false}"#),
        ("empty array", r#"{"pin":[]}"#),
        ("empty object", r#"{"pin":{}}"#),
    ];
    let mut failures = Failures::default();
    for (case, body) in cases {
        // Act
        let got = Reply::of(post_raw(&app, Some(&admin), Some(JSON), body).await).await;
        // Assert
        failures.error(case, &got, 400, 1009, Some(EMPTY_PIN));
    }
    failures.assert_none();
    assert_eq!(
        two_step_state(&app).await,
        json!({"enabled": false, "updated_at": null}),
        "a rejected PIN changed two-step"
    );
}

#[tokio::test]
async fn a_malformed_pin_is_rejected_with_1009_six_digit_number() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("five digits", r#"{"pin":"12345"}"#),
        ("seven digits", r#"{"pin":"1234567"}"#),
        ("a letter", r#"{"pin":"12a456"}"#),
        ("leading space", r#"{"pin":" 12345"}"#),
        ("inner space", r#"{"pin":"123 456"}"#),
        ("trailing newline", r#"{"pin":"123456\n"}"#),
        ("Arabic-Indic digits", r#"{"pin":"١٢٣٤٥٦"}"#),
        ("fullwidth digits", r#"{"pin":"１２３４５６"}"#),
        ("five-digit integer", r#"{"pin":12345}"#),
        ("seven-digit integer", r#"{"pin":1234567}"#),
        ("integer 99999", r#"{"pin":99999}"#),
        ("float 123456.0", r#"{"pin":123456.0}"#),
        ("float 123456.5", r#"{"pin":123456.5}"#),
        ("exponent 1e5", r#"{"pin":1e5}"#),
        ("negative integer", r#"{"pin":-123456}"#),
        ("array of one", r#"{"pin":[1]}"#),
        ("array holding a valid pin", r#"{"pin":["123456"]}"#),
        ("non-empty object", r#"{"pin":{"a":1}}"#),
        ("true", r#"{"pin":true}"#),
        ("seven digits with leading zero", r#"{"pin":"0123456"}"#),
        ("signed string", r#"{"pin":"+12345"}"#),
    ];
    let mut failures = Failures::default();
    for (case, body) in cases {
        // Act
        let got = Reply::of(post_raw(&app, Some(&admin), Some(JSON), body).await).await;
        // Assert
        failures.error(case, &got, 400, 1009, Some(BAD_PIN));
    }
    failures.assert_none();
    assert_eq!(
        two_step_state(&app).await,
        json!({"enabled": false, "updated_at": null}),
        "a rejected PIN changed two-step"
    );
}

#[tokio::test]
async fn a_non_admin_user_is_forbidden_to_set_or_disable_the_pin() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "operator1", "Operat0r-Pass!").await;
    let mut failures = Failures::default();

    // Act + Assert
    let got = Reply::of(app.set_pin(&user, json!({"pin": "123456"})).await).await;
    failures.error("user POST", &got, 403, 1005, Some(NO_PERMISSION));
    let state = two_step_state(&app).await;
    if state["enabled"] != false {
        failures.push(format!("a forbidden POST enabled two-step: {state}"));
    }
    expect_status(app.set_pin(&admin, json!({"pin": "123456"})).await, 200).await;
    let got = Reply::of(app.disable_two_step(&user).await).await;
    failures.error("user DELETE", &got, 403, 1005, Some(NO_PERMISSION));
    let state = two_step_state(&app).await;
    if state["enabled"] != true {
        failures.push(format!("a forbidden DELETE disabled two-step: {state}"));
    }
    failures.assert_none();
}

#[tokio::test]
async fn a_missing_or_invalid_token_is_rejected_with_401() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let basic_auth = basic("admin", ADMIN_PASSWORD);
    let suffixed = format!("Bearer {admin}x");
    let cases: [(&str, Option<&str>); 6] = [
        ("no Authorization header", None),
        (
            "unknown bearer token",
            Some("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("empty bearer token", Some("Bearer ")),
        ("bearer scheme alone", Some("Bearer")),
        ("Basic credentials", Some(&basic_auth)),
        ("token with extra suffix", Some(&suffixed)),
    ];
    let mut failures = Failures::default();
    for (case, auth) in &cases {
        for method in [Method::POST, Method::DELETE] {
            // Act
            let mut req = app
                .request(method.clone(), TWO_STEP)
                .header("content-type", JSON)
                .body(r#"{"pin":"123456"}"#);
            if let Some(auth) = auth {
                req = req.header("authorization", *auth);
            }
            let got = Reply::of(req.send().await.expect("request")).await;
            // Assert
            failures.error(
                &format!("{method} {case}"),
                &got,
                401,
                1005,
                Some(NO_CREDENTIALS),
            );
        }
    }
    failures.assert_none();
    assert_eq!(
        two_step_state(&app).await["enabled"],
        false,
        "an unauthenticated POST enabled two-step"
    );
}

#[tokio::test]
async fn authentication_and_role_are_checked_before_the_body_is_decoded() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "operator1", "Operat0r-Pass!").await;
    let malformed = r#"{"pin": "123456""#;
    let mut failures = Failures::default();

    // Act + Assert
    let got = Reply::of(post_raw(&app, None, Some(JSON), malformed).await).await;
    failures.error(
        "no token, malformed JSON",
        &got,
        401,
        1005,
        Some(NO_CREDENTIALS),
    );
    let got = Reply::of(post_raw(&app, Some("not-a-token"), Some(JSON), malformed).await).await;
    failures.error(
        "bad token, malformed JSON",
        &got,
        401,
        1005,
        Some(NO_CREDENTIALS),
    );
    let got = Reply::of(post_raw(&app, Some(&user), Some(JSON), malformed).await).await;
    failures.error(
        "non-admin, malformed JSON",
        &got,
        403,
        1005,
        Some(NO_PERMISSION),
    );
    let got = Reply::of(post_raw(&app, Some(&user), Some(JSON), "{}").await).await;
    failures.error("non-admin, no pin", &got, 403, 1005, Some(NO_PERMISSION));
    let got = Reply::of(post_raw(&app, Some(&user), Some(JSON), r#"{"pin":"1"}"#).await).await;
    failures.error("non-admin, bad pin", &got, 403, 1005, Some(NO_PERMISSION));
    let got = Reply::of(post_raw(&app, Some(&admin), Some(JSON), malformed).await).await;
    failures.decode_error("admin, malformed JSON", &got);
    failures.assert_none();
}
