//! Login, tokens, logout and the failed-login limiter (SPEC §2), black-box over TCP; does not cover user management.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::helpers::*;

const INVALID_CREDENTIALS: &str = "Missing or invalid authentication credentials";
const LIMITED: &str = "Rate limiting exceeded on bad login attempts";
const ONE_DAY: i64 = 24 * 60 * 60;

/// `GET /v1/health` with the given raw `Authorization` header value.
async fn health_with(app: &TestApp, authorization: &str) -> reqwest::Response {
    app.request(Method::GET, "/v1/health")
        .header("Authorization", authorization)
        .send()
        .await
        .expect("health request")
}

/// `GET /v1/health` with a bearer token.
async fn health(app: &TestApp, token: &str) -> reqwest::Response {
    health_with(app, &format!("Bearer {token}")).await
}

/// A login request with a raw `Authorization` header (or none) and an optional `X-Forwarded-For`.
async fn raw_login(
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

/// Asserts a refused login as the real server answers it: 401, an empty body and
/// no `WWW-Authenticate` header.
#[track_caller]
fn expect_bare_401(resp: reqwest::Response) -> impl std::future::Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        let status = resp.status();
        let challenge = resp.headers().get("www-authenticate").cloned();
        let text = resp.text().await.expect("body");
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "at {caller}; body: {text}"
        );
        assert!(
            text.is_empty(),
            "login refusal must have an empty body at {caller}; got {text:?}"
        );
        assert!(
            challenge.is_none(),
            "unexpected WWW-Authenticate {challenge:?} at {caller}"
        );
    }
}

/// Asserts 401/1005 with the invalid-credentials details.
#[track_caller]
fn expect_invalid_token(resp: reqwest::Response) -> impl std::future::Future<Output = ()> {
    let fut = expect_error(resp, StatusCode::UNAUTHORIZED, 1005);
    async move {
        let body = fut.await;
        assert_eq!(
            body["errors"][0]["details"], INVALID_CREDENTIALS,
            "body: {body}"
        );
    }
}

/// Returns the token of a successful login response.
#[track_caller]
fn token_of(resp: reqwest::Response) -> impl std::future::Future<Output = String> {
    let fut = expect_status(resp, StatusCode::OK);
    async move {
        let body = fut.await;
        body["users"][0]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }
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

    let body = expect_error(resp, StatusCode::UNAUTHORIZED, 1024).await;
    assert_eq!(body["errors"][0]["details"], "Password must be changed");
}

#[tokio::test]
async fn an_empty_new_password_counts_as_absent_and_gets_1024() {
    let app = TestApp::spawn().await;

    let resp = app
        .login("admin", SEED_PASSWORD, Some(json!({"new_password": ""})))
        .await;

    let body = expect_error(resp, StatusCode::UNAUTHORIZED, 1024).await;
    assert_eq!(body["errors"][0]["details"], "Password must be changed");
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

    let body = expect_status(resp, StatusCode::OK).await;
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
    expect_status(health(&app, token).await, StatusCode::OK).await;
}

#[tokio::test]
async fn after_the_first_login_the_old_password_fails_and_the_new_one_needs_no_change() {
    let app = TestApp::spawn().await;
    app.admin_token().await;

    let old = app.login("admin", SEED_PASSWORD, None).await;
    let new = app.login("admin", ADMIN_PASSWORD, None).await;

    expect_bare_401(old).await;
    let token = token_of(new).await;
    expect_status(health(&app, &token).await, StatusCode::OK).await;
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

        let body = expect_error(resp, StatusCode::BAD_REQUEST, 1009).await;
        let details = body["errors"][0]["details"].as_str().unwrap_or_default();
        assert!(
            details.contains("8 and 64"),
            "new password with {what}: details do not state the rule: {body}"
        );
    }
    // None of the refused changes took effect.
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, 1024).await;
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

        expect_status(resp, StatusCode::OK).await;
        token_of(app.login("admin", &password, None).await).await;
    }
}

// ---------------------------------------------------------------- refused logins

#[tokio::test]
async fn a_wrong_password_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let before_change = app.login("admin", "not-the-password", None).await;
    expect_bare_401(before_change).await;
    app.admin_token().await;
    let after_change = app.login("admin", "not-the-password", None).await;

    expect_bare_401(after_change).await;
}

#[tokio::test]
async fn an_unknown_user_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = app.login("nobody", SEED_PASSWORD, None).await;

    expect_bare_401(resp).await;
}

#[tokio::test]
async fn a_login_without_authorization_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = raw_login(&app, None, None).await;

    expect_bare_401(resp).await;
}

#[tokio::test]
async fn a_login_with_garbled_basic_credentials_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = raw_login(&app, Some("Basic garbage"), None).await;

    expect_bare_401(resp).await;
}

#[tokio::test]
async fn a_login_with_a_bearer_header_gets_a_bare_401() {
    let app = TestApp::spawn().await;

    let resp = raw_login(&app, Some("Bearer x"), None).await;

    expect_bare_401(resp).await;
}

#[tokio::test]
async fn without_forced_change_the_admin_logs_in_with_the_seed_password() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;

    let resp = app.login("admin", SEED_PASSWORD, None).await;

    let token = token_of(resp).await;
    expect_status(health(&app, &token).await, StatusCode::OK).await;
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn two_logins_give_two_different_tokens_that_are_both_valid() {
    let app = TestApp::spawn().await;
    let first = app.admin_token().await;

    let second = app.admin_token().await;

    assert_ne!(first, second);
    expect_status(health(&app, &first).await, StatusCode::OK).await;
    expect_status(health(&app, &second).await, StatusCode::OK).await;
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

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"meta": {"version": "v2.45.1", "api_status": "stable"}})
    );
    expect_invalid_token(health(&app, &revoked).await).await;
    expect_status(health(&app, &kept).await, StatusCode::OK).await;
}

#[tokio::test]
async fn logout_without_a_token_is_refused_with_1005() {
    let app = TestApp::spawn().await;

    let resp = app
        .request(Method::POST, "/v1/users/logout")
        .send()
        .await
        .expect("logout");

    expect_invalid_token(resp).await;
}

#[tokio::test]
async fn a_token_stops_working_when_its_ttl_has_passed() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__TOKEN_TTL_SECS", "1")
        .start()
        .await;
    let token = app.admin_token().await;
    expect_status(health(&app, &token).await, StatusCode::OK).await;

    // No readiness signal exists for time passing: one bounded sleep past the 1 s TTL.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = health(&app, &token).await;

    expect_invalid_token(resp).await;
}

#[tokio::test]
async fn an_unknown_bearer_token_is_refused_with_1005() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    let resp = health(&app, &format!("{token}x")).await;

    expect_invalid_token(resp).await;
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
        let resp = health_with(&app, &header).await;

        expect_invalid_token(resp).await;
    }
}

// ---------------------------------------------------------------- limiter

/// A server that blocks a client address after 3 failed logins.
fn limited_app() -> Spawn {
    TestApp::with().env("WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS", "3")
}

/// The admin's first login with the right password and a valid new one: it would
/// succeed if the client address were not blocked.
async fn right_first_login(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app
        .request(Method::POST, "/v1/users/login")
        .header("Authorization", basic("admin", SEED_PASSWORD))
        .json(&json!({"new_password": ADMIN_PASSWORD}));
    if let Some(x) = forwarded_for {
        req = req.header("X-Forwarded-For", x);
    }
    req.send().await.expect("login")
}

/// Sends `times` logins with a wrong password, each answered with a bare 401.
async fn fail_logins(app: &TestApp, times: usize, forwarded_for: Option<&str>) {
    let wrong = basic("admin", "wrong-password");
    for _ in 0..times {
        expect_bare_401(raw_login(app, Some(&wrong), forwarded_for).await).await;
    }
}

#[tokio::test]
async fn after_max_failed_logins_even_the_right_password_gets_429() {
    let app = limited_app().start().await;
    fail_logins(&app, 3, None).await;

    let resp = right_first_login(&app, None).await;

    let body = expect_error(resp, StatusCode::TOO_MANY_REQUESTS, 1015).await;
    assert_eq!(body["errors"][0]["details"], LIMITED);
}

#[tokio::test]
async fn successful_logins_do_not_count_towards_the_limiter() {
    let app = limited_app()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;

    for _ in 0..5 {
        token_of(app.login("admin", SEED_PASSWORD, None).await).await;
    }
    fail_logins(&app, 2, None).await;

    token_of(app.login("admin", SEED_PASSWORD, None).await).await;
}

#[tokio::test]
async fn with_trusted_forwarded_for_each_left_most_address_has_its_own_budget() {
    let app = limited_app()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .start()
        .await;
    fail_logins(&app, 3, Some("10.0.0.1, 127.0.0.1")).await;
    let blocked = right_first_login(&app, Some("10.0.0.1, 127.0.0.1")).await;
    expect_error(blocked, StatusCode::TOO_MANY_REQUESTS, 1015).await;

    let other = right_first_login(&app, Some("10.0.0.2, 127.0.0.1")).await;

    token_of(other).await;
}

#[tokio::test]
async fn with_untrusted_forwarded_for_changing_the_header_does_not_escape_the_block() {
    let app = limited_app().start().await;
    fail_logins(&app, 3, Some("10.0.0.1, 127.0.0.1")).await;

    let other = right_first_login(&app, Some("10.0.0.2, 127.0.0.1")).await;
    let none = right_first_login(&app, None).await;

    let body = expect_error(other, StatusCode::TOO_MANY_REQUESTS, 1015).await;
    assert_eq!(body["errors"][0]["details"], LIMITED);
    expect_error(none, StatusCode::TOO_MANY_REQUESTS, 1015).await;
}

#[tokio::test]
async fn the_login_limiter_remembers_at_most_its_capacity_of_forwarded_addresses() {
    // Arrange: trust X-Forwarded-For, so each request can claim a new address.
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .env("WA_TWOSTEP_AUTH__LOGIN_LIMITER_CAPACITY", "50")
        .env("WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS", "1")
        .start()
        .await;
    let fail_from = |addr: String| {
        app.request(Method::POST, "/v1/users/login")
            .header("Authorization", basic("admin", "wrong"))
            .header("X-Forwarded-For", addr)
            .send()
    };

    // Act: 400 distinct addresses fail once each.
    for n in 0..400u32 {
        let resp = fail_from(format!("10.{}.{}.1", n / 256, n % 256))
            .await
            .expect("login");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let metrics = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");

    // Assert: memory stayed bounded, and the newest address is still blocked.
    let remembered: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wa_twostep_login_limiter_addresses "))
        .expect("limiter gauge")
        .parse()
        .expect("number");
    assert!(
        remembered <= 50.0,
        "limiter remembers {remembered} addresses"
    );
    let again = fail_from("10.1.143.1".into()).await.expect("login");
    expect_error(again, StatusCode::TOO_MANY_REQUESTS, 1015).await;
}
