//! The failed-login limiter, the PIN-guess budget and the Cloud register/deregister
//! budget are shared: what one server counts counts on the other, and a reset on
//! one clears them for both.

use reqwest::Method;
use serde_json::json;

use crate::support::graph::*;
use crate::support::postgres::Replicas;
use crate::support::*;

#[tokio::test]
async fn failed_logins_through_both_servers_share_one_limit() {
    let r = Replicas::start(&[("WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS", "3")]).await;
    for server in [&r.a, &r.b, &r.a] {
        expect_login_refused(server.login("admin", "wrong-password", None).await).await;
    }
    // Three failures in all, two of them on A: B is blocked too, even for the right password.
    let blocked = r.b.login("admin", SEED_PASSWORD, None).await;
    expect_error(blocked, 429, 1015, Some(LOGIN_LIMITED)).await;

    // Both servers' gauges count the one address the database remembers.
    for server in [&r.a, &r.b] {
        assert_eq!(limiter_gauge(server).await, 1.0);
    }

    let reset = r.a.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(reset, 200).await;
    assert_eq!(
        limiter_gauge(&r.b).await,
        0.0,
        "a reset forgets every address"
    );
    expect_token(r.b.login("admin", SEED_PASSWORD, None).await).await;
}

/// `wa_twostep_login_limiter_addresses` from `/metrics`.
async fn limiter_gauge(server: &TestApp) -> f64 {
    let metrics = server.get("/metrics").await.text().await.expect("metrics");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("wa_twostep_login_limiter_addresses "))
        .expect("limiter gauge")
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn parallel_wrong_logins_and_pins_through_both_servers_are_held_to_the_limits() {
    let r = Replicas::start(&[
        ("WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS", "3"),
        ("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "2"),
    ])
    .await;
    let token = r.a.admin_token().await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    let logins = parallel_logins(&[&r.a, &r.b], 20, "wrong-password").await;
    let guesses = parallel_statuses((0..12).map(|i| {
        let server = if i % 2 == 0 { &r.a } else { &r.b };
        server
            .request(Method::POST, "/v1/account")
            .bearer_auth(&token)
            .json(
                &json!({"cc": "1", "phone_number": "5550100", "method": "sms",
                          "cert": "Y2VydA==", "pin": format!("{:06}", 100_000 + i)}),
            )
    }))
    .await;

    assert_eq!(count_of(&logins, 401), 3, "logins: {logins:?}");
    assert_eq!(count_of(&logins, 429), 17, "logins: {logins:?}");
    assert_eq!(count_of(&guesses, 400), 2, "wrong PINs: {guesses:?}");
    assert_eq!(count_of(&guesses, 429), 10, "wrong PINs: {guesses:?}");
}

#[tokio::test]
async fn wrong_pins_through_both_servers_share_one_budget() {
    let r = Replicas::start(&[("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "2")]).await;
    let token = r.a.admin_token().await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    for server in [&r.a, &r.b] {
        let wrong = server.register_number(&token, Some("135791")).await;
        expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    }
    for server in [&r.a, &r.b] {
        let blocked = server.register_number(&token, Some("246810")).await;
        expect_error(
            blocked,
            429,
            1015,
            Some("Too many two-step verification PIN guesses"),
        )
        .await;
    }
}

#[tokio::test]
async fn register_and_deregister_calls_through_both_servers_share_one_budget() {
    let r = Replicas::start(&[
        ("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", CLOUD_TOKEN),
        ("WA_TWOSTEP_CLOUD__MAX_REGISTRATIONS", "3"),
    ])
    .await;
    let first = r.a.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    expect_graph_success(first).await;
    expect_graph_success(r.b.graph_deregister(CLOUD_TOKEN, PHONE_ID).await).await;
    expect_graph_success(r.a.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await).await;
    // Three calls in all, two on A: the budget is used up on B too.
    let refused = r.b.graph_deregister(CLOUD_TOKEN, PHONE_ID).await;
    expect_graph_error(refused, too_many_registrations()).await;
    let refused = r.a.graph_deregister(CLOUD_TOKEN, PHONE_ID).await;
    expect_graph_error(refused, too_many_registrations()).await;

    let reset = r.b.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(reset, 200).await;
    expect_graph_success(r.a.graph_deregister(CLOUD_TOKEN, PHONE_ID).await).await;
}

#[tokio::test]
async fn parallel_deregisters_through_both_servers_take_no_more_than_the_budget() {
    let r = Replicas::start(&[
        ("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", CLOUD_TOKEN),
        ("WA_TWOSTEP_CLOUD__MAX_REGISTRATIONS", "3"),
    ])
    .await;

    // Several rounds: a race for the last places is not lost every time.
    for round in 0..5 {
        let statuses = parallel_statuses((0..8).map(|i| {
            let server = if i % 2 == 0 { &r.a } else { &r.b };
            server
                .request(Method::POST, &format!("/v22.0/{PHONE_ID}/deregister"))
                .bearer_auth(CLOUD_TOKEN)
        }))
        .await;
        assert_eq!(count_of(&statuses, 200), 3, "round {round}: {statuses:?}");
        assert_eq!(count_of(&statuses, 400), 5, "round {round}: {statuses:?}");
        expect_status(
            r.a.call(Method::POST, "/__sandbox/reset", None, None).await,
            200,
        )
        .await;
    }
}
