//! The control token (`control.token`) guarding `/__sandbox/state` and `/reset`,
//! a disabled control plane (404), and the start-up guard: a non-loopback listen
//! address needs the control plane protected or disabled.

use reqwest::Method;

use super::state_reset::seed_state;
use crate::support::*;

// ---------------------------------------------------------------- control token

/// A server whose control plane needs `Bearer CONTROL_TOKEN`.
async fn protected_app() -> TestApp {
    TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await
}

#[tokio::test]
async fn with_a_control_token_state_without_it_is_refused_with_401() {
    let app = protected_app().await;

    let resp = app.call(Method::GET, "/__sandbox/state", None, None).await;

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn with_a_control_token_a_wrong_bearer_is_refused_with_401() {
    let app = protected_app().await;
    let api_token = app.admin_token().await;

    for wrong in [
        "control-secret-12",
        "control-secret-1234",
        api_token.as_str(),
    ] {
        let resp = app
            .call(Method::GET, "/__sandbox/state", Some(wrong), None)
            .await;

        expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
}

#[tokio::test]
async fn with_a_control_token_the_right_bearer_reads_the_state() {
    let app = protected_app().await;

    let resp = app
        .call(Method::GET, "/__sandbox/state", Some(CONTROL_TOKEN), None)
        .await;

    assert_eq!(expect_status(resp, 200).await, seed_state());
}

#[tokio::test]
async fn with_a_control_token_reset_without_it_changes_nothing() {
    let app = protected_app().await;
    let admin = app.admin_token().await;

    let missing = app.call(Method::POST, "/__sandbox/reset", None, None).await;
    let wrong = app
        .call(Method::POST, "/__sandbox/reset", Some("nope"), None)
        .await;

    expect_error(missing, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_error(wrong, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_status(app.health(&admin).await, 200).await;
}

#[tokio::test]
async fn with_a_control_token_the_right_bearer_resets() {
    let app = protected_app().await;
    let admin = app.admin_token().await;

    let resp = app
        .call(Method::POST, "/__sandbox/reset", Some(CONTROL_TOKEN), None)
        .await;

    assert_eq!(expect_status(resp, 200).await, seed_state());
    expect_error(app.health(&admin).await, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn a_disabled_control_plane_answers_404() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__ENABLED", "false")
        .start()
        .await;
    let admin = app.admin_token().await;

    let state = app.call(Method::GET, "/__sandbox/state", None, None).await;
    let reset = app.call(Method::POST, "/__sandbox/reset", None, None).await;

    expect_error(state, 404, 1006, Some(NOT_FOUND)).await;
    expect_error(reset, 404, 1006, Some(NOT_FOUND)).await;
    expect_status(app.health(&admin).await, 200).await;
}

// ---------------------------------------------------------------- start-up guard

#[tokio::test]
async fn a_non_loopback_listen_with_an_unprotected_control_plane_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");

    let (status, stdout, stderr) =
        run_to_exit(&["--listen", "0.0.0.0:0", "--ephemeral"], &[], dir.path());

    assert_eq!(status.code(), Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("listening on"), "stdout: {stdout}");
    assert!(
        !stderr.is_empty(),
        "the refusal must be explained on stderr"
    );
}

/// A handle reaching `app` (listening on all interfaces) through 127.0.0.1.
fn loopback(app: &TestApp) -> Remote {
    Remote {
        base: format!("http://127.0.0.1:{}", app.addr.port()),
        client: app.client.clone(),
    }
}

/// Starts a server listening on `0.0.0.0:0` (ephemeral state) with extra environment.
async fn start_on_all_interfaces(env: (&str, &str)) -> TestApp {
    let mut spawn = TestApp::with()
        .arg("--listen")
        .arg("0.0.0.0:0")
        .arg("--ephemeral")
        .env(env.0, env.1);
    spawn.no_listen_flag = true;
    spawn.no_state_flag = true;
    spawn.start().await
}

#[tokio::test]
async fn a_non_loopback_listen_with_a_control_token_starts() {
    let app = start_on_all_interfaces(("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)).await;

    assert!(
        app.addr.ip().is_unspecified(),
        "ready line address {}",
        app.addr
    );
    loopback(&app).assert_probe_ok().await;
}

#[tokio::test]
async fn a_non_loopback_listen_with_the_control_plane_disabled_starts() {
    let app = start_on_all_interfaces(("WA_TWOSTEP_CONTROL__ENABLED", "false")).await;

    loopback(&app).assert_probe_ok().await;
}
