//! `GET /metrics`: Prometheus text with requests by route and status,
//! latency, the argon2 queue and state writes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

async fn scrape(app: &TestApp, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app.request(Method::GET, "/metrics");
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("metrics")
}

/// The value of the sample line starting with `series` (exact series text).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_state_writes() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "123456"})).await, 200).await;
    expect_error(
        app.set_pin(&token, json!({"pin": "12"})).await,
        400,
        1009,
        Some(BAD_PIN),
    )
    .await;
    expect_status(app.disable_two_step(&token).await, 200).await;

    let resp = scrape(&app, None).await;

    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = resp.text().await.unwrap();
    let route = "wa_twostep_requests_total{route=\"/v1/settings/account/two-step\"";
    assert_eq!(
        sample(&text, &format!("{route},status=\"200\"}}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("{route},status=\"400\"}}")),
        Some(1.0),
        "{text}"
    );
    let count = sample(&text, "wa_twostep_request_duration_seconds_count").unwrap();
    assert!(count >= 4.0, "{text}");
    let inf = sample(
        &text,
        "wa_twostep_request_duration_seconds_bucket{le=\"+Inf\"}",
    )
    .unwrap();
    assert_eq!(inf, count);
    // Login, PIN set and PIN disable are three durable changes.
    assert!(
        sample(&text, "wa_twostep_state_changes_total").unwrap() >= 3.0,
        "{text}"
    );
    assert!(
        sample(&text, "wa_twostep_state_writes_total").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "wa_twostep_argon2_jobs_total").unwrap() >= 2.0,
        "{text}"
    );
    assert_eq!(sample(&text, "wa_twostep_argon2_queue_depth"), Some(0.0));
    assert!(!text.contains("123456"), "a PIN reached the metrics");
}

#[tokio::test]
async fn metrics_need_the_control_token_when_one_is_set() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", "ctl-token")
        .start()
        .await;

    let without = scrape(&app, None).await;
    let with = scrape(&app, Some("ctl-token")).await;

    expect_error(without, 401, 1005, Some(NO_CREDENTIALS)).await;
    assert_eq!(with.status(), StatusCode::OK);
}
