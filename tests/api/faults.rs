//! Fault injection (SPEC §6): matching by method and path, the countdown, delays,
//! the envelope of an injected error, listing and clearing, validation, the
//! control token, and reset.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::helpers::*;

const CONTROL_TOKEN: &str = "control-secret-123";

/// `POST /__sandbox/faults` with a JSON body, without a control token.
async fn post_fault(app: &TestApp, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/__sandbox/faults")
        .json(&body)
        .send()
        .await
        .expect("post fault")
}

/// Adds a fault, asserting 201; returns the created fault.
async fn add_fault(app: &TestApp, body: Value) -> Value {
    expect_status(post_fault(app, body).await, StatusCode::CREATED).await
}

/// `GET /__sandbox/faults`, asserting 200; returns the active faults.
async fn faults(app: &TestApp) -> Vec<Value> {
    let resp = app
        .request(Method::GET, "/__sandbox/faults")
        .send()
        .await
        .expect("list faults");
    let body = expect_status(resp, StatusCode::OK).await;
    body["faults"].as_array().expect("faults array").clone()
}

/// `GET /v1/health` with an optional token.
async fn health(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.request(Method::GET, "/v1/health");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("health")
}

#[tokio::test]
async fn a_fault_answers_the_next_matching_request_then_the_server_serves_normally() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    add_fault(
        &app,
        json!({"method": "POST", "path": TWO_STEP, "status": 503}),
    )
    .await;

    let faulted = app.set_pin(&admin, json!({"pin": "123456"})).await;
    let body = expect_error(faulted, StatusCode::SERVICE_UNAVAILABLE, 1016).await;
    let state = app.sandbox_state().await;
    let served = app.set_pin(&admin, json!({"pin": "123456"})).await;

    assert!(body["errors"][0].get("details").is_none(), "body: {body}");
    assert_eq!(
        state["two_step"]["enabled"], false,
        "the faulted request must not reach the handler"
    );
    expect_status(served, StatusCode::OK).await;
}

#[tokio::test]
async fn a_fault_applies_before_authentication() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"path": "/v1/health", "status": 500})).await;

    let faulted = health(&app, None).await;
    let after = health(&app, None).await;

    expect_error(faulted, StatusCode::INTERNAL_SERVER_ERROR, 1014).await;
    expect_error(after, StatusCode::UNAUTHORIZED, 1005).await;
}

#[tokio::test]
async fn a_fault_matches_only_its_method() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    add_fault(
        &app,
        json!({"method": "delete", "path": TWO_STEP, "code": 1015}),
    )
    .await;

    let post = app.set_pin(&admin, json!({"pin": "123456"})).await;
    let delete = app.disable_two_step(&admin).await;

    expect_status(post, StatusCode::OK).await;
    expect_error(delete, StatusCode::TOO_MANY_REQUESTS, 1015).await;
}

#[tokio::test]
async fn a_fault_matches_only_its_exact_path() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    add_fault(&app, json!({"path": "/v1/users/alice", "status": 502})).await;

    let other_user = app
        .request(Method::GET, "/v1/users/admin")
        .bearer_auth(&admin)
        .send()
        .await
        .expect("read admin");
    let health = health(&app, Some(&admin)).await;
    let target = app
        .request(Method::GET, "/v1/users/alice")
        .send()
        .await
        .expect("read alice");

    expect_status(other_user, StatusCode::OK).await;
    expect_status(health, StatusCode::OK).await;
    expect_error(target, StatusCode::BAD_GATEWAY, 1014).await;
}

#[tokio::test]
async fn a_fault_without_a_path_hits_any_v1_path_but_never_the_control_plane() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"times": 2})).await;

    app.sandbox_state().await;
    let probe = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("probe");
    let first = health(&app, None).await;
    let second = app
        .request(Method::POST, "/v1/users/login")
        .send()
        .await
        .expect("login");
    let third = health(&app, None).await;

    expect_status(probe, StatusCode::OK).await;
    expect_error(first, StatusCode::INTERNAL_SERVER_ERROR, 1014).await;
    expect_error(second, StatusCode::INTERNAL_SERVER_ERROR, 1014).await;
    expect_error(third, StatusCode::UNAUTHORIZED, 1005).await;
}

#[tokio::test]
async fn times_counts_down_and_the_list_shows_what_remains() {
    let app = TestApp::spawn().await;
    let created = add_fault(
        &app,
        json!({"path": "/v1/health", "status": 503, "times": 3}),
    )
    .await;
    assert_eq!(created["remaining"], 3, "created: {created}");
    assert_eq!(created["times"], 3);

    health(&app, None).await;
    let listed = faults(&app).await;
    assert_eq!(listed.len(), 1, "faults: {listed:?}");
    assert_eq!(listed[0]["id"], created["id"]);
    assert_eq!(listed[0]["remaining"], 2);
    assert_eq!(
        (&listed[0]["method"], &listed[0]["path"], &listed[0]["code"]),
        (&Value::Null, &json!("/v1/health"), &json!(1016))
    );

    for _ in 0..2 {
        expect_error(
            health(&app, None).await,
            StatusCode::SERVICE_UNAVAILABLE,
            1016,
        )
        .await;
    }

    assert_eq!(faults(&app).await, Vec::<Value>::new());
    expect_error(health(&app, None).await, StatusCode::UNAUTHORIZED, 1005).await;
}

#[tokio::test]
async fn a_delay_only_fault_delays_the_request_then_serves_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = add_fault(&app, json!({"path": "/v1/health", "delay_ms": 300})).await;
    assert_eq!(created["status"], Value::Null, "created: {created}");

    let start = Instant::now();
    let resp = health(&app, Some(&admin)).await;
    let elapsed = start.elapsed();

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(body["health"]["gateway_status"], "connected");
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert_eq!(faults(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_delay_with_a_status_delays_then_answers_the_error() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"delay_ms": 200, "status": 429})).await;

    let start = Instant::now();
    let resp = health(&app, None).await;
    let elapsed = start.elapsed();

    expect_error(resp, StatusCode::TOO_MANY_REQUESTS, 1015).await;
    assert!(elapsed >= Duration::from_millis(200), "took {elapsed:?}");
}

#[tokio::test]
async fn an_injected_error_carries_its_details_meta_and_the_request_id() {
    let app = TestApp::spawn().await;
    add_fault(
        &app,
        json!({"status": 502, "code": 1014, "details": "upstream down"}),
    )
    .await;

    let resp = app
        .request(Method::GET, "/v1/health")
        .header("X-Request-ID", "fault-7")
        .send()
        .await
        .expect("health");
    let echoed = resp.headers().get("x-request-id").cloned();
    let body = expect_error(resp, StatusCode::BAD_GATEWAY, 1014).await;

    assert_eq!(echoed.as_ref().map(|v| v.as_bytes()), Some(&b"fault-7"[..]));
    assert_eq!(body["errors"][0]["details"], "upstream down");
    let journal = app
        .request(Method::GET, "/__sandbox/requests")
        .send()
        .await
        .expect("journal");
    let journal = expect_status(journal, StatusCode::OK).await;
    let entry = &journal["requests"][0];
    assert_eq!(
        (&entry["request_id"], &entry["status"], &entry["path"]),
        (&json!("fault-7"), &json!(502), &json!("/v1/health"))
    );
}

#[tokio::test]
async fn a_code_outside_the_table_gets_the_generic_title() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"code": 2000})).await;

    let resp = health(&app, None).await;

    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], 2000);
    assert_eq!(body["errors"][0]["title"], "Generic error");
    assert_eq!(body["meta"]["api_status"], "stable");
}

#[tokio::test]
async fn a_fault_can_be_posted_as_a_form() {
    let app = TestApp::spawn().await;

    let resp = app
        .request(Method::POST, "/__sandbox/faults")
        .form(&[("path", "/v1/health"), ("status", "429"), ("times", "2")])
        .send()
        .await
        .expect("post fault");
    let created = expect_status(resp, StatusCode::CREATED).await;

    assert_eq!(
        (&created["status"], &created["code"], &created["times"]),
        (&json!(429), &json!(1015), &json!(2))
    );
    expect_error(
        health(&app, None).await,
        StatusCode::TOO_MANY_REQUESTS,
        1015,
    )
    .await;
}

#[tokio::test]
async fn deleting_the_faults_clears_them() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"status": 500, "times": 5})).await;
    add_fault(&app, json!({"method": "GET", "delay_ms": 10})).await;
    assert_eq!(faults(&app).await.len(), 2);

    let resp = app
        .request(Method::DELETE, "/__sandbox/faults")
        .send()
        .await
        .expect("clear faults");
    let body = expect_status(resp, StatusCode::OK).await;

    assert_eq!(body, json!({"faults": []}));
    assert_eq!(faults(&app).await, Vec::<Value>::new());
    expect_error(health(&app, None).await, StatusCode::UNAUTHORIZED, 1005).await;
}

#[tokio::test]
async fn a_reset_removes_every_fault() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"status": 500, "times": 5})).await;

    let resp = app
        .request(Method::POST, "/__sandbox/reset")
        .send()
        .await
        .expect("reset");
    expect_status(resp, StatusCode::OK).await;

    assert_eq!(faults(&app).await, Vec::<Value>::new());
    expect_error(health(&app, None).await, StatusCode::UNAUTHORIZED, 1005).await;
}

#[tokio::test]
async fn invalid_fault_values_are_rejected_with_1009_and_nothing_is_added() {
    let app = TestApp::spawn().await;

    for bad in [
        json!({"status": 200}),
        json!({"status": 600}),
        json!({"status": "oops"}),
        json!({"status": 503.5}),
        json!({"code": 0}),
        json!({"code": -5}),
        json!({"times": 0}),
        json!({"delay_ms": -1}),
        json!({"delay_ms": 300_001}),
        json!({"method": "GET /"}),
        json!({"method": 7}),
        json!({"path": "v1/health"}),
        json!({"path": "/__sandbox/state"}),
        json!({"path": "/v1/health?x=1"}),
        json!({"details": 5}),
    ] {
        let resp = post_fault(&app, bad.clone()).await;
        let body = expect_error(resp, StatusCode::BAD_REQUEST, 1009).await;
        assert!(
            body["errors"][0]["details"].is_string(),
            "no details for {bad}: {body}"
        );
    }

    assert_eq!(faults(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_unknown_fault_field_is_rejected_with_1010() {
    let app = TestApp::spawn().await;

    let resp = post_fault(&app, json!({"delay": 100})).await;

    let body = expect_error(resp, StatusCode::BAD_REQUEST, 1010).await;
    assert_eq!(body["errors"][0]["details"], "Unknown parameter 'delay'");
    assert_eq!(faults(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_malformed_fault_body_is_rejected_with_1025() {
    let app = TestApp::spawn().await;

    let resp = app
        .request(Method::POST, "/__sandbox/faults")
        .header("Content-Type", "application/json")
        .body("{\"status\":")
        .send()
        .await
        .expect("post fault");

    expect_error(resp, StatusCode::BAD_REQUEST, 1025).await;
    assert_eq!(faults(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn with_a_control_token_the_faults_require_it() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;

    for method in [Method::POST, Method::GET, Method::DELETE] {
        let resp = app
            .request(method.clone(), "/__sandbox/faults")
            .json(&json!({"status": 500}))
            .send()
            .await
            .expect("faults");
        expect_error(resp, StatusCode::UNAUTHORIZED, 1005).await;
    }
    expect_error(health(&app, None).await, StatusCode::UNAUTHORIZED, 1005).await;
    let resp = app
        .request(Method::POST, "/__sandbox/faults")
        .bearer_auth(CONTROL_TOKEN)
        .json(&json!({"status": 500}))
        .send()
        .await
        .expect("faults");
    expect_status(resp, StatusCode::CREATED).await;

    expect_error(
        health(&app, None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        1014,
    )
    .await;
}
