//! The two-step PIN endpoint: setting (string, integer, form), replacing and
//! disabling the PIN, `updated_at`, idempotent disabling, and the PIN never
//! showing anywhere. Validation and check order are in `two_step_validation`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

/// `POST` two-step with an exact body on the wire (so `1e5` stays `1e5`).
pub(super) async fn post_raw(
    app: &TestApp,
    token: Option<&str>,
    ctype: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut req = app.request(Method::POST, TWO_STEP).body(body.to_owned());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(ctype) = ctype {
        req = req.header("content-type", ctype);
    }
    req.send().await.expect("post two-step")
}

/// The two-step part of `/__sandbox/state`.
pub(super) async fn two_step_state(app: &TestApp) -> Value {
    app.sandbox_state().await["two_step"].clone()
}

/// Contents and modification times of the state file and its companions (not the lock).
fn state_files(app: &TestApp) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(app.dir.path())
        .expect("read state dir")
        .map(|e| e.expect("dir entry"))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with("state.json") && !name.ends_with(".lock")).then(|| {
                let bytes = std::fs::read(e.path()).expect("read state file");
                let mtime = e.metadata().expect("metadata").modified().expect("mtime");
                (name, bytes, mtime)
            })
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[tokio::test]
async fn an_admin_can_set_a_pin_as_a_string_with_leading_zeros_or_an_integer() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("string 123456", r#"{"pin":"123456"}"#),
        ("string with leading zeros 012345", r#"{"pin":"012345"}"#),
        ("string of zeros 000000", r#"{"pin":"000000"}"#),
        ("integer 123456", r#"{"pin":123456}"#),
        ("smallest integer 100000", r#"{"pin":100000}"#),
        ("largest integer 999999", r#"{"pin":999999}"#),
        ("extra unknown keys", r#"{"pin":"654321","other":true}"#),
    ];
    let mut failures = Failures::default();
    for (case, body) in cases {
        // Act
        let got = Reply::of(post_raw(&app, Some(&admin), Some(JSON), body).await).await;
        // Assert
        failures.success(case, &got, &meta_only());
        let state = two_step_state(&app).await;
        if state["enabled"] != true {
            failures.push(format!(
                "case {case}: state two_step.enabled is not true: {state}"
            ));
        }
        if !state["updated_at"]
            .as_str()
            .is_some_and(is_rfc3339_utc_millis)
        {
            failures.push(format!(
                "case {case}: updated_at is not RFC 3339 UTC with ms: {state}"
            ));
        }
    }
    failures.assert_none();
}

#[tokio::test]
async fn setting_a_pin_again_replaces_it_and_moves_updated_at() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let first = app.set_pin(&admin, json!({"pin": "111111"})).await;
    assert_eq!(expect_status(first, 200).await, meta_only());
    let before = two_step_state(&app).await;
    // updated_at has millisecond precision; make sure the clock has moved past it.
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Act
    let second = app.set_pin(&admin, json!({"pin": "222222"})).await;

    // Assert
    assert_eq!(expect_status(second, 200).await, meta_only());
    let after = two_step_state(&app).await;
    assert_eq!(after["enabled"], true, "state after replacing: {after}");
    let (t1, t2) = (
        before["updated_at"].as_str().expect("updated_at before"),
        after["updated_at"].as_str().expect("updated_at after"),
    );
    assert!(is_rfc3339_utc_millis(t2), "updated_at {t2:?}");
    assert!(
        t2 > t1,
        "updated_at did not move on re-enable: {t1} -> {t2}"
    );
}

#[tokio::test]
async fn disabling_two_step_returns_empty_success_and_shows_disabled() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    expect_status(app.set_pin(&admin, json!({"pin": "123456"})).await, 200).await;
    let enabled_at = two_step_state(&app).await["updated_at"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Act
    let resp = app.disable_two_step(&admin).await;

    // Assert
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        ctype.as_deref().is_some_and(|c| c.starts_with(JSON)),
        "content-type {ctype:?}"
    );
    assert_eq!(expect_status(resp, 200).await, meta_only());
    let state = two_step_state(&app).await;
    assert_eq!(state["enabled"], false, "state after disable: {state}");
    let disabled_at = state["updated_at"]
        .as_str()
        .expect("updated_at after disable");
    assert!(
        is_rfc3339_utc_millis(disabled_at),
        "updated_at {disabled_at:?}"
    );
    assert!(
        disabled_at > enabled_at.as_str().expect("updated_at after enable"),
        "a disable that changes something must move updated_at: {enabled_at} -> {disabled_at}"
    );
}

#[tokio::test]
async fn disabling_when_already_disabled_is_200_and_writes_nothing() {
    // Arrange: the first login changes the admin password, so the state file exists.
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // Act + Assert: never enabled → 200, updated_at stays null.
    let never = app.disable_two_step(&admin).await;
    assert_eq!(expect_status(never, 200).await, meta_only());
    let state = two_step_state(&app).await;
    assert_eq!(
        state,
        json!({"enabled": false, "updated_at": null}),
        "never-enabled disable changed state"
    );

    // Arrange: enable then disable once.
    expect_status(app.set_pin(&admin, json!({"pin": "123456"})).await, 200).await;
    expect_status(app.disable_two_step(&admin).await, 200).await;
    let before = two_step_state(&app).await;
    let files_before = state_files(&app);
    assert!(
        !files_before.is_empty(),
        "no state file in {:?}",
        app.dir.path()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Act: disable again.
    let again = app.disable_two_step(&admin).await;

    // Assert
    assert_eq!(expect_status(again, 200).await, meta_only());
    let after = two_step_state(&app).await;
    assert_eq!(after, before, "an idempotent disable must keep updated_at");
    let files_after = state_files(&app);
    assert!(
        files_after == files_before,
        "an idempotent disable wrote to the state files"
    );
}

#[tokio::test]
async fn a_form_encoded_pin_is_read_like_a_json_one() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut failures = Failures::default();

    // Act + Assert: errors first, so the success below is the only change.
    let errors = [
        ("form pin=", "pin=", 1009, EMPTY_PIN),
        ("form pin=0", "pin=0", 1009, EMPTY_PIN),
        ("form without pin", "other=1", 1008, MISSING_PIN),
        ("empty form", "", 1008, MISSING_PIN),
        ("form pin=12345", "pin=12345", 1009, BAD_PIN),
        ("form pin=123%20456", "pin=123%20456", 1009, BAD_PIN),
    ];
    for (case, body, code, details) in errors {
        let got = Reply::of(post_raw(&app, Some(&admin), Some(FORM), body).await).await;
        failures.error(case, &got, 400, code, Some(details));
    }
    let state = two_step_state(&app).await;
    if state["enabled"] != false {
        failures.push(format!("a rejected form PIN enabled two-step: {state}"));
    }
    let got = Reply::of(post_raw(&app, Some(&admin), Some(FORM), "pin=123456").await).await;
    failures.success("form pin=123456", &got, &meta_only());
    let state = two_step_state(&app).await;
    if state["enabled"] != true {
        failures.push(format!("form pin=123456 did not enable two-step: {state}"));
    }
    failures.assert_none();
}

#[tokio::test]
async fn a_json_content_type_with_a_charset_parameter_is_accepted() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // Act
    let got = Reply::of(
        post_raw(
            &app,
            Some(&admin),
            Some("application/json; charset=utf-8"),
            r#"{"pin":"123456"}"#,
        )
        .await,
    )
    .await;

    // Assert
    let mut failures = Failures::default();
    failures.success("application/json; charset=utf-8", &got, &meta_only());
    failures.assert_none();
    assert_eq!(two_step_state(&app).await["enabled"], true);
}

#[tokio::test]
async fn a_pin_never_appears_in_responses_logs_or_the_state_file() {
    // Arrange: distinctive PINs that no timestamp, port or id is likely to contain.
    let mut app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let pins = ["482915", "573920", "691357", "9k4w2"];
    let mut bodies = Vec::new();

    // Act: set each valid PIN in every accepted form, and send some rejected ones.
    for resp in [
        post_raw(&app, Some(&admin), Some(JSON), r#"{"pin":"482915"}"#).await,
        post_raw(&app, Some(&admin), Some(JSON), r#"{"pin":573920}"#).await,
        post_raw(&app, Some(&admin), Some(FORM), "pin=691357").await,
        post_raw(&app, Some(&admin), Some(JSON), r#"{"pin":"9k4w2"}"#).await,
        post_raw(&app, Some(&admin), Some(JSON), r#"{"pin":"482915""#).await,
        post_raw(&app, None, Some(JSON), r#"{"pin":"482915"}"#).await,
    ] {
        bodies.push(resp.text().await.expect("body"));
    }
    for path in ["/__sandbox/state", "/__sandbox/requests"] {
        let resp = app.get(path).await;
        bodies.push(resp.text().await.expect("body"));
    }

    // Assert
    let state: String = state_files(&app)
        .into_iter()
        .map(|(_, bytes, _)| String::from_utf8_lossy(&bytes).into_owned())
        .collect();
    assert!(
        state.contains("$argon2id$"),
        "state file holds no argon2id hash: {state}"
    );
    // Every line written: the server flushes its log when it exits.
    app.stop();
    let logs = app.stderr();
    for pin in pins {
        for body in &bodies {
            assert!(
                !body.contains(pin),
                "PIN {pin} appears in a response body: {body}"
            );
        }
        assert!(
            !state.contains(pin),
            "PIN {pin} appears in the state file: {state}"
        );
        assert!(
            !logs.contains(pin),
            "PIN {pin} appears in the server log:\n{logs}"
        );
    }
}
