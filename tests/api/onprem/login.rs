//! Login, tokens and logout: the forced first password change, refused logins
//! (a bare 401), token format, lifetime and revocation. Not the limiter, not users.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::json;

use crate::support::*;

const ONE_DAY: i64 = 24 * 60 * 60;

/// A login request with a raw `Authorization` header (or none) and an optional `X-Forwarded-For`.
pub(super) async fn raw_login(
    app: &TestApp,
    authorization: Option<&str>,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = app.request(Method::POST, "/v1/users/login");
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    if let Some(x) = forwarded_for {
        req = req.header("X-Forwarded-For", x);
    }
    req.send().await.expect("login request")
}

/// True when `s` matches `pattern`, where `9` stands for one ASCII digit and every
/// other character stands for itself.
fn matches_pattern(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'9' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of an `expires_after` value (`YYYY-MM-DD HH:MM:SS+00:00`).
fn parse_expires_after(s: &str) -> i64 {
    assert!(
        matches_pattern(s, "9999-99-99 99:99:99+00:00"),
        "expires_after {s:?} is not YYYY-MM-DD HH:MM:SS+00:00"
    );
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().expect("digits");
    let (mo, d, h, mi, se) = (n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19));
    assert!(
        (1..=12).contains(&mo) && (1..=31).contains(&d),
        "bad date {s:?}"
    );
    assert!(h < 24 && mi < 60 && se < 60, "bad time {s:?}");
    days_from_civil(n(0, 4), mo, d) * ONE_DAY + h * 3600 + mi * 60 + se
}

/// The current Unix time in seconds.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[test]
fn the_date_helpers_agree_with_known_dates() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(
        parse_expires_after("2000-03-01 00:00:01+00:00"),
        951_868_801
    );
    assert!(!matches_pattern(
        "2026-12-02T21:00:00+00:00",
        "9999-99-99 99:99:99+00:00"
    ));
}

// ---------------------------------------------------------------- first login

#[tokio::test]
async fn a_first_login_without_new_password_is_refused_with_1024() {
    let app = TestApp::spawn().await;

    let resp = app.login("admin", SEED_PASSWORD, None).await;

    expect_error(resp, 401, 1024, Some(MUST_CHANGE)).await;
}

#[tokio::test]
async fn an_empty_new_password_counts_as_absent_and_gets_1024() {
    let app = TestApp::spawn().await;

    let resp = app
        .login("admin", SEED_PASSWORD, Some(json!({"new_password": ""})))
        .await;

    expect_error(resp, 401, 1024, Some(MUST_CHANGE)).await;
}

#[tokio::test]
async fn a_first_login_with_a_valid_new_password_returns_a_token_valid_for_seven_days() {
    let app = TestApp::spawn().await;

    let resp = app
        .login(
            "admin",
            SEED_PASSWORD,
            Some(json!({"new_password": ADMIN_PASSWORD})),
        )
        .await;

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body["meta"],
        json!({"version": "v2.45.1", "api_status": "stable"}),
        "body: {body}"
    );
    let users = body["users"].as_array().expect("users array");
    assert_eq!(users.len(), 1, "body: {body}");
    let token = users[0]["token"].as_str().expect("token string");
    assert!(token.len() >= 43, "token too short for 256 bits: {token:?}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)),
        "token is not URL-safe: {token:?}"
    );
    let expires = parse_expires_after(
        body["users"][0]["expires_after"]
            .as_str()
            .expect("expires_after"),
    );
    let expected = now_unix() + 7 * ONE_DAY;
    assert!(
        (expires - expected).abs() <= ONE_DAY,
        "expires_after {} is not about 7 days ahead",
        body["users"][0]["expires_after"]
    );
    expect_status(app.health(token).await, 200).await;
}

#[tokio::test]
async fn after_the_first_login_the_old_password_fails_and_the_new_one_needs_no_change() {
    let app = TestApp::spawn().await;
    app.admin_token().await;

    let old = app.login("admin", SEED_PASSWORD, None).await;
    let new = app.login("admin", ADMIN_PASSWORD, None).await;

    expect_login_refused(old).await;
    let token = expect_token(new).await;
    expect_status(app.health(&token).await, 200).await;
}

#[tokio::test]
async fn weak_new_passwords_are_rejected_with_1009_stating_the_rule() {
    let app = TestApp::spawn().await;
    let too_long = format!("Aa1!{}", "a".repeat(61));
    let cases: [(&str, &str); 8] = [
        ("7 characters", "Sh0rt!a"),
        ("65 characters", &too_long),
        ("no upper-case letter", "sandbox-pa55!"),
        ("no lower-case letter", "SANDBOX-PA55!"),
        ("no digit", "Sandbox-Pass!"),
        ("no punctuation", "SandboxPa55"),
        ("a space", "Sandbox Pa55!"),
        ("a non-ASCII letter", "Sandbox-Pä55!"),
    ];

    for (what, password) in cases {
        let resp = app
            .login(
                "admin",
                SEED_PASSWORD,
                Some(json!({"new_password": password})),
            )
            .await;

        let body = expect_error(resp, 400, 1009, Some(PASSWORD_RULE)).await;
        let details = body["errors"][0]["details"].as_str().unwrap_or_default();
        assert!(
            details.contains("8 and 64"),
            "new password with {what}: details do not state the rule: {body}"
        );
    }
    // None of the refused changes took effect.
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    expect_error(resp, 401, 1024, Some(MUST_CHANGE)).await;
}

#[tokio::test]
async fn new_passwords_of_exactly_8_and_64_characters_are_accepted() {
    for password in ["Aa1!bcde".to_owned(), format!("Aa1!{}", "b".repeat(60))] {
        let app = TestApp::spawn().await;

        let resp = app
            .login(
                "admin",
                SEED_PASSWORD,
                Some(json!({"new_password": password})),
            )
            .await;

        expect_status(resp, 200).await;
        expect_token(app.login("admin", &password, None).await).await;
    }
}

// ---------------------------------------------------------------- refused logins

#[tokio::test]
async fn a_wrong_password_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let before_change = app.login("admin", "not-the-password", None).await;
    expect_login_refused(before_change).await;
    app.admin_token().await;
    let after_change = app.login("admin", "not-the-password", None).await;

    expect_login_refused(after_change).await;
}

#[tokio::test]
async fn an_unknown_user_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = app.login("nobody", SEED_PASSWORD, None).await;

    expect_login_refused(resp).await;
}

#[tokio::test]
async fn a_login_without_authorization_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = raw_login(&app, None, None).await;

    expect_login_refused(resp).await;
}

#[tokio::test]
async fn a_login_with_garbled_basic_credentials_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = raw_login(&app, Some("Basic garbage"), None).await;

    expect_login_refused(resp).await;
}

#[tokio::test]
async fn a_login_with_a_bearer_header_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = raw_login(&app, Some("Bearer x"), None).await;

    expect_login_refused(resp).await;
}

#[tokio::test]
async fn without_forced_change_the_admin_logs_in_with_the_seed_password() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;

    let resp = app.login("admin", SEED_PASSWORD, None).await;

    let token = expect_token(resp).await;
    expect_status(app.health(&token).await, 200).await;
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn two_logins_give_two_different_tokens_that_are_both_valid() {
    let app = TestApp::spawn().await;
    let first = app.admin_token().await;

    let second = app.admin_token().await;

    assert_ne!(first, second);
    expect_status(app.health(&first).await, 200).await;
    expect_status(app.health(&second).await, 200).await;
}

#[tokio::test]
async fn logout_revokes_only_the_token_it_was_called_with() {
    let app = TestApp::spawn().await;
    let kept = app.admin_token().await;
    let revoked = app.admin_token().await;

    let resp = app
        .request(Method::POST, "/v1/users/logout")
        .bearer_auth(&revoked)
        .send()
        .await
        .expect("logout");

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body,
        json!({"meta": {"version": "v2.45.1", "api_status": "stable"}})
    );
    expect_error(app.health(&revoked).await, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_status(app.health(&kept).await, 200).await;
}

#[tokio::test]
async fn a_logout_with_a_malformed_or_oversized_body_is_refused_and_keeps_the_token() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let logout = |body: String| {
        app.raw_json_once(Method::POST, "/v1/users/logout", &token, body)
            .send()
    };

    let malformed = logout("{bad".to_owned()).await.expect("malformed");
    let too_big = logout(format!(r#"{{"pad": "{}"}}"#, "x".repeat(70_000)))
        .await
        .expect("too big");

    expect_decode_error(malformed).await;
    expect_error(too_big, 413, 1009, Some("Request body exceeds 65536 bytes")).await;
    expect_status(app.health(&token).await, 200).await;
}

#[tokio::test]
async fn logout_without_a_token_is_refused_with_1005() {
    let app = TestApp::spawn().await;

    let resp = app.call(Method::POST, "/v1/users/logout", None, None).await;

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn a_token_stops_working_when_its_ttl_has_passed() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__TOKEN_TTL_SECS", "1")
        .start()
        .await;
    let token = app.admin_token().await;
    expect_status(app.health(&token).await, 200).await;

    // No readiness signal exists for time passing: one bounded sleep past the 1 s TTL.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = app.health(&token).await;

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn an_unknown_bearer_token_is_refused_with_1005() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    let resp = app.health(&format!("{token}x")).await;

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn a_token_under_another_scheme_spelling_is_refused_with_1005() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    for header in [
        format!("bearer {token}"),
        format!("Token {token}"),
        "Bearer".to_owned(),
    ] {
        let resp = app.health_with(Some(&header)).await;

        expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
}
