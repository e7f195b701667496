//! The failed-login limiter: after `auth.max_failed_logins` failures a client
//! address gets 429 / 1015 even with the right password; `X-Forwarded-For` counts
//! only when trusted, and then only the entry the trusted proxies added
//! (`server.proxy_hops` from the right); the limiter's memory is bounded. The same
//! through a real nginx: tests/api/deploy/nginx.rs.

use reqwest::Method;
use serde_json::json;

use super::login::raw_login;
use crate::support::*;

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
        expect_login_refused(raw_login(app, Some(&wrong), forwarded_for).await).await;
    }
}

#[tokio::test]
async fn after_max_failed_logins_even_the_right_password_gets_429() {
    let app = limited_app().start().await;
    fail_logins(&app, 3, None).await;

    let resp = right_first_login(&app, None).await;

    expect_error(resp, 429, 1015, Some(LOGIN_LIMITED)).await;
}

#[tokio::test]
async fn a_blocked_address_gets_429_even_for_a_login_without_readable_credentials() {
    let app = limited_app().start().await;
    // Before the block, and not counted: a login without credentials is the bare 401.
    for _ in 0..3 {
        expect_login_refused(raw_login(&app, None, None).await).await;
    }
    expect_login_refused(raw_login(&app, Some("Basic !!!"), None).await).await;
    fail_logins(&app, 3, None).await;

    let none = raw_login(&app, None, None).await;
    let not_base64 = raw_login(&app, Some("Basic !!!"), None).await;
    let no_colon = raw_login(&app, Some("Basic YWRtaW4="), None).await;

    for resp in [none, not_base64, no_colon] {
        expect_error(resp, 429, 1015, Some(LOGIN_LIMITED)).await;
    }
}

#[tokio::test]
async fn parallel_wrong_logins_are_held_to_the_limit() {
    // A cost that hashes on the pool, so the logins really overlap: each waits for
    // its verification while the others arrive.
    let app = limited_app()
        .env("WA_TWOSTEP_ARGON2__MEMORY_KIB", "256")
        .start()
        .await;

    let statuses = parallel_logins(&[&app], 20, "wrong-password").await;

    assert_eq!(count_of(&statuses, 401), 3, "{statuses:?}");
    assert_eq!(count_of(&statuses, 429), 17, "{statuses:?}");
}

#[tokio::test]
async fn successful_logins_do_not_count_towards_the_limiter() {
    let app = limited_app()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;

    for _ in 0..5 {
        expect_token(app.login("admin", SEED_PASSWORD, None).await).await;
    }
    fail_logins(&app, 2, None).await;

    expect_token(app.login("admin", SEED_PASSWORD, None).await).await;
}

#[tokio::test]
async fn with_trusted_forwarded_for_each_address_the_proxy_added_has_its_own_budget() {
    // The proxy appended 10.0.0.1 / 10.0.0.2 to whatever the client sent.
    let app = limited_app()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .start()
        .await;
    fail_logins(&app, 3, Some("203.0.113.7, 10.0.0.1")).await;
    let blocked = right_first_login(&app, Some("203.0.113.7, 10.0.0.1")).await;
    expect_error(blocked, 429, 1015, Some(LOGIN_LIMITED)).await;

    let other = right_first_login(&app, Some("203.0.113.7, 10.0.0.2")).await;

    expect_token(other).await;
}

#[tokio::test]
async fn with_trusted_forwarded_for_what_the_client_sent_left_of_it_never_counts() {
    // Each guess claims a new address in front of the one the proxy added: the
    // left-most rule gave each its own budget; the right-most one does not.
    let app = limited_app()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .start()
        .await;
    for n in 1..=3 {
        fail_logins(&app, 1, Some(&format!("198.51.100.{n}, 10.0.0.1"))).await;
    }

    let spoofed = right_first_login(&app, Some("198.51.100.99, 10.0.0.1")).await;

    expect_error(spoofed, 429, 1015, Some(LOGIN_LIMITED)).await;
}

#[tokio::test]
async fn proxy_hops_counts_the_trusted_proxies_from_the_right() {
    // Two proxies: the outer one appended the client (10.0.0.1), the inner one the
    // outer proxy (10.9.9.9).
    let app = limited_app()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .env("WA_TWOSTEP_SERVER__PROXY_HOPS", "2")
        .start()
        .await;
    for n in 1..=3 {
        fail_logins(
            &app,
            1,
            Some(&format!("198.51.100.{n}, 10.0.0.1, 10.9.9.9")),
        )
        .await;
    }
    let blocked = right_first_login(&app, Some("198.51.100.9, 10.0.0.1, 10.9.9.9")).await;
    expect_error(blocked, 429, 1015, Some(LOGIN_LIMITED)).await;

    // Another client behind the same two proxies.
    let other = right_first_login(&app, Some("10.0.0.2, 10.9.9.9")).await;

    expect_token(other).await;
}

#[tokio::test]
async fn with_untrusted_forwarded_for_changing_the_header_does_not_escape_the_block() {
    let app = limited_app().start().await;
    fail_logins(&app, 3, Some("10.0.0.1, 127.0.0.1")).await;

    let other = right_first_login(&app, Some("10.0.0.2, 127.0.0.1")).await;
    let none = right_first_login(&app, None).await;

    expect_error(other, 429, 1015, Some(LOGIN_LIMITED)).await;
    expect_error(none, 429, 1015, Some(LOGIN_LIMITED)).await;
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
        assert_eq!(resp.status(), 401);
    }
    let metrics = app.get("/metrics").await.text().await.expect("text");

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
    expect_error(again, 429, 1015, Some(LOGIN_LIMITED)).await;
}
