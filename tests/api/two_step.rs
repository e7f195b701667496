//! Two-step verification PIN endpoint (SPEC §3) over real TCP: setting, replacing and
//! disabling the PIN, every PIN validation case, auth and check order, and secrecy.
//! Black-box only: it never looks inside the server beyond the state file and logs.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::helpers::*;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const MISSING_PIN: &str = "Missing mandatory parameter 'pin'";
const EMPTY_PIN: &str = "Pin must not be empty";
const BAD_PIN: &str = "Pin must be a 6-digit number";
const NO_CREDENTIALS: &str = "Missing or invalid authentication credentials";
const NO_PERMISSION: &str = "User doesn't have permission";

/// The default empty-success body (`api.empty_success = "meta"`).
fn meta_only() -> Value {
    json!({"meta": {"version": "v2.45.1", "api_status": "stable"}})
}

/// What came back, read once so a table case can report every mismatch at once.
struct Got {
    status: StatusCode,
    ctype: String,
    text: String,
}

impl Got {
    async fn of(resp: reqwest::Response) -> Got {
        let status = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
            .unwrap_or_default();
        let text = resp.text().await.expect("read body");
        Got {
            status,
            ctype,
            text,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or(Value::String(format!("<not JSON> {}", self.text)))
    }

    /// `None` when this is the error envelope `(status, code, details)`, else a description.
    fn error_mismatch(
        &self,
        case: &str,
        status: StatusCode,
        code: i64,
        details: &str,
    ) -> Option<String> {
        let body = self.json();
        let err = &body["errors"][0];
        let ok = self.status == status
            && self.ctype.starts_with(JSON)
            && err["code"] == code
            && err["title"] == title_of(code)
            && err["details"] == details
            && body["meta"] == meta_only()["meta"];
        (!ok).then(|| {
            format!(
                "case {case}: expected {status} {code} {details:?}, got {} ({}) {}",
                self.status, self.ctype, self.text
            )
        })
    }

    /// `None` when this is a 200 default empty success, else a description.
    fn success_mismatch(&self, case: &str) -> Option<String> {
        let ok = self.status == StatusCode::OK
            && self.ctype.starts_with(JSON)
            && self.json() == meta_only();
        (!ok).then(|| {
            format!(
                "case {case}: expected 200 {}, got {} ({}) {}",
                meta_only(),
                self.status,
                self.ctype,
                self.text
            )
        })
    }
}

/// `POST` two-step with an exact body on the wire (so `1e5` stays `1e5`).
async fn post_raw(
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

/// Panics listing every failed case, so one run shows the whole table.
#[track_caller]
fn assert_no_failures(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// RFC 3339 UTC with at least millisecond precision: `YYYY-MM-DDTHH:MM:SS.fff…(Z|+00:00)`.
fn is_rfc3339_utc_millis(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let fixed = b.len() >= 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.';
    if !fixed {
        return false;
    }
    let rest = &s[20..];
    let frac = rest.bytes().take_while(u8::is_ascii_digit).count();
    let zone = &rest[frac..];
    frac >= 3 && (zone == "Z" || zone == "z" || zone == "+00:00")
}

/// The two-step part of `/__sandbox/state`.
async fn two_step_state(app: &TestApp) -> Value {
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
    let mut failures = Vec::new();
    for (case, body) in cases {
        // Act
        let got = Got::of(post_raw(&app, Some(&admin), Some(JSON), body).await).await;
        // Assert
        failures.extend(got.success_mismatch(case));
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
    assert_no_failures(failures);
}

#[tokio::test]
async fn setting_a_pin_again_replaces_it_and_moves_updated_at() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let first = app.set_pin(&admin, json!({"pin": "111111"})).await;
    assert_eq!(expect_status(first, StatusCode::OK).await, meta_only());
    let before = two_step_state(&app).await;
    // updated_at has millisecond precision; make sure the clock has moved past it.
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Act
    let second = app.set_pin(&admin, json!({"pin": "222222"})).await;

    // Assert
    assert_eq!(expect_status(second, StatusCode::OK).await, meta_only());
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
    expect_status(
        app.set_pin(&admin, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;
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
    assert_eq!(expect_status(resp, StatusCode::OK).await, meta_only());
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
    assert_eq!(expect_status(never, StatusCode::OK).await, meta_only());
    let state = two_step_state(&app).await;
    assert_eq!(
        state,
        json!({"enabled": false, "updated_at": null}),
        "never-enabled disable changed state"
    );

    // Arrange: enable then disable once.
    expect_status(
        app.set_pin(&admin, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;
    expect_status(app.disable_two_step(&admin).await, StatusCode::OK).await;
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
    assert_eq!(expect_status(again, StatusCode::OK).await, meta_only());
    let after = two_step_state(&app).await;
    assert_eq!(after, before, "an idempotent disable must keep updated_at");
    let files_after = state_files(&app);
    assert!(
        files_after == files_before,
        "an idempotent disable wrote to the state files"
    );
}

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
    let mut failures = Vec::new();
    for (case, ctype, body) in cases {
        // Act
        let got = Got::of(post_raw(&app, Some(&admin), ctype, body).await).await;
        // Assert
        failures.extend(got.error_mismatch(case, StatusCode::BAD_REQUEST, 1008, MISSING_PIN));
    }
    assert_no_failures(failures);
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
    let mut failures = Vec::new();
    for (case, body) in cases {
        // Act
        let got = Got::of(post_raw(&app, Some(&admin), Some(JSON), body).await).await;
        // Assert
        failures.extend(got.error_mismatch(case, StatusCode::BAD_REQUEST, 1009, EMPTY_PIN));
    }
    assert_no_failures(failures);
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
    let mut failures = Vec::new();
    for (case, body) in cases {
        // Act
        let got = Got::of(post_raw(&app, Some(&admin), Some(JSON), body).await).await;
        // Assert
        failures.extend(got.error_mismatch(case, StatusCode::BAD_REQUEST, 1009, BAD_PIN));
    }
    assert_no_failures(failures);
    assert_eq!(
        two_step_state(&app).await,
        json!({"enabled": false, "updated_at": null}),
        "a rejected PIN changed two-step"
    );
}

#[tokio::test]
async fn a_form_encoded_pin_is_read_like_a_json_one() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut failures = Vec::new();

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
        let got = Got::of(post_raw(&app, Some(&admin), Some(FORM), body).await).await;
        failures.extend(got.error_mismatch(case, StatusCode::BAD_REQUEST, code, details));
    }
    let state = two_step_state(&app).await;
    if state["enabled"] != false {
        failures.push(format!("a rejected form PIN enabled two-step: {state}"));
    }
    let got = Got::of(post_raw(&app, Some(&admin), Some(FORM), "pin=123456").await).await;
    failures.extend(got.success_mismatch("form pin=123456"));
    let state = two_step_state(&app).await;
    if state["enabled"] != true {
        failures.push(format!("form pin=123456 did not enable two-step: {state}"));
    }
    assert_no_failures(failures);
}

#[tokio::test]
async fn a_json_content_type_with_a_charset_parameter_is_accepted() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // Act
    let got = Got::of(
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
    assert_no_failures(
        got.success_mismatch("application/json; charset=utf-8")
            .into_iter()
            .collect(),
    );
    assert_eq!(two_step_state(&app).await["enabled"], true);
}

#[tokio::test]
async fn a_non_admin_user_is_forbidden_to_set_or_disable_the_pin() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "operator1", "Operat0r-Pass!").await;
    let mut failures = Vec::new();

    // Act + Assert
    let got = Got::of(app.set_pin(&user, json!({"pin": "123456"})).await).await;
    failures.extend(got.error_mismatch("user POST", StatusCode::FORBIDDEN, 1005, NO_PERMISSION));
    let state = two_step_state(&app).await;
    if state["enabled"] != false {
        failures.push(format!("a forbidden POST enabled two-step: {state}"));
    }
    expect_status(
        app.set_pin(&admin, json!({"pin": "123456"})).await,
        StatusCode::OK,
    )
    .await;
    let got = Got::of(app.disable_two_step(&user).await).await;
    failures.extend(got.error_mismatch("user DELETE", StatusCode::FORBIDDEN, 1005, NO_PERMISSION));
    let state = two_step_state(&app).await;
    if state["enabled"] != true {
        failures.push(format!("a forbidden DELETE disabled two-step: {state}"));
    }
    assert_no_failures(failures);
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
    let mut failures = Vec::new();
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
            let got = Got::of(req.send().await.expect("request")).await;
            // Assert
            failures.extend(got.error_mismatch(
                &format!("{method} {case}"),
                StatusCode::UNAUTHORIZED,
                1005,
                NO_CREDENTIALS,
            ));
        }
    }
    assert_no_failures(failures);
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
    let mut failures = Vec::new();

    // Act + Assert
    let got = Got::of(post_raw(&app, None, Some(JSON), malformed).await).await;
    failures.extend(got.error_mismatch(
        "no token, malformed JSON",
        StatusCode::UNAUTHORIZED,
        1005,
        NO_CREDENTIALS,
    ));
    let got = Got::of(post_raw(&app, Some("not-a-token"), Some(JSON), malformed).await).await;
    failures.extend(got.error_mismatch(
        "bad token, malformed JSON",
        StatusCode::UNAUTHORIZED,
        1005,
        NO_CREDENTIALS,
    ));
    let got = Got::of(post_raw(&app, Some(&user), Some(JSON), malformed).await).await;
    failures.extend(got.error_mismatch(
        "non-admin, malformed JSON",
        StatusCode::FORBIDDEN,
        1005,
        NO_PERMISSION,
    ));
    let got = Got::of(post_raw(&app, Some(&user), Some(JSON), "{}").await).await;
    failures.extend(got.error_mismatch(
        "non-admin, no pin",
        StatusCode::FORBIDDEN,
        1005,
        NO_PERMISSION,
    ));
    let got = Got::of(post_raw(&app, Some(&user), Some(JSON), r#"{"pin":"1"}"#).await).await;
    failures.extend(got.error_mismatch(
        "non-admin, bad pin",
        StatusCode::FORBIDDEN,
        1005,
        NO_PERMISSION,
    ));
    let got = Got::of(post_raw(&app, Some(&admin), Some(JSON), malformed).await).await;
    let body = got.json();
    let details = body["errors"][0]["details"].as_str().unwrap_or_default();
    let ok = got.status == StatusCode::BAD_REQUEST
        && got.ctype.starts_with(JSON)
        && body["errors"][0]["code"] == 1025
        && body["errors"][0]["title"] == title_of(1025)
        && details.starts_with("Unable to decode the request: ")
        && body["meta"] == meta_only()["meta"];
    if !ok {
        failures.push(format!(
            "case admin, malformed JSON: expected 400 1025 'Unable to decode the request: …', got {} {}",
            got.status, got.text
        ));
    }
    assert_no_failures(failures);
}

#[tokio::test]
async fn a_pin_never_appears_in_responses_logs_or_the_state_file() {
    // Arrange: distinctive PINs that no timestamp, port or id is likely to contain.
    let app = TestApp::spawn().await;
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
        let resp = app
            .request(Method::GET, path)
            .send()
            .await
            .expect("control request");
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
