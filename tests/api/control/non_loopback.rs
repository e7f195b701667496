//! A server on a non-loopback address: the control token must be long enough,
//! and `/metrics` is never open without it. The servers bind 0.0.0.0; the tests
//! talk to them through 127.0.0.1 only.

use reqwest::Method;

use crate::support::*;

/// A control token long enough for a non-loopback listener.
const LONG_TOKEN: &str = "newcomer-control-token-0123";

#[test]
fn a_short_control_token_on_a_non_loopback_address_exits_2_without_echoing_it() {
    let (code, out, err) = run_in_temp_dir(
        &["--listen", "0.0.0.0:0", "--ephemeral"],
        &[("WA_TWOSTEP_CONTROL__TOKEN", "fifteen-chars15")],
    );

    assert_one_line_config_error(code, &err);
    assert!(out.is_empty(), "stdout: {out}");
    assert!(err.contains("control.token"), "stderr: {err}");
    assert!(
        err.contains("16"),
        "stderr does not give the minimum: {err}"
    );
    assert!(
        !err.contains("fifteen-chars15"),
        "stderr echoes the token: {err}"
    );
}

#[tokio::test]
async fn a_short_control_token_on_loopback_is_accepted() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", "short")
        .start()
        .await;

    let resp = app
        .request(Method::GET, "/metrics")
        .bearer_auth("short")
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn metrics_on_a_non_loopback_address_without_a_token_is_refused() {
    let app = TestApp::on_all_interfaces(&[("WA_TWOSTEP_CONTROL__ENABLED", "false")]).await;

    let resp = app
        .client
        .get(app.loopback_url("/metrics"))
        .send()
        .await
        .expect("metrics");

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    let resp = app
        .client
        .get(app.loopback_url("/__sandbox/health"))
        .send()
        .await
        .expect("health");
    expect_status(resp, 200).await;
}

#[tokio::test]
async fn metrics_on_a_non_loopback_address_needs_the_control_token() {
    let app = TestApp::on_all_interfaces(&[("WA_TWOSTEP_CONTROL__TOKEN", LONG_TOKEN)]).await;

    let anonymous = app
        .client
        .get(app.loopback_url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let wrong = app
        .client
        .get(app.loopback_url("/metrics"))
        .bearer_auth("not-the-control-token")
        .send()
        .await
        .expect("metrics");
    let right = app
        .client
        .get(app.loopback_url("/metrics"))
        .bearer_auth(LONG_TOKEN)
        .send()
        .await
        .expect("metrics");

    expect_error(anonymous, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_error(wrong, 401, 1005, Some(NO_CREDENTIALS)).await;
    assert_eq!(right.status(), 200);
    let text = right.text().await.expect("body");
    assert!(text.contains("wa_twostep_"), "not the metrics text: {text}");
}

#[tokio::test]
async fn metrics_on_loopback_without_a_token_stays_open() {
    let app = TestApp::spawn().await;

    let resp = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics");

    assert_eq!(resp.status(), 200);
}
