//! Fault injection: matching by method and path, the countdown, delays,
//! the envelope of an injected error, listing and clearing, validation, the
//! control token, and reset.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

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
    expect_status(post_fault(app, body).await, 201).await
}

/// `GET /__sandbox/faults`, asserting 200; returns the active faults.
async fn faults(app: &TestApp) -> Vec<Value> {
    let body = app.get_ok("/__sandbox/faults").await;
    body["faults"].as_array().expect("faults array").clone()
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
    let body = expect_error(faulted, 503, 1016, None).await;
    let state = app.sandbox_state().await;
    let served = app.set_pin(&admin, json!({"pin": "123456"})).await;

    assert!(body["errors"][0].get("details").is_none(), "body: {body}");
    assert_eq!(
        state["two_step"]["enabled"], false,
        "the faulted request must not reach the handler"
    );
    expect_status(served, 200).await;
}

#[tokio::test]
async fn a_fault_applies_before_authentication() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"path": "/v1/health", "status": 500})).await;

    let faulted = app.health_with(None).await;
    let after = app.health_with(None).await;

    expect_error(faulted, 500, 1014, None).await;
    expect_error(after, 401, 1005, Some(NO_CREDENTIALS)).await;
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

    expect_status(post, 200).await;
    expect_error(delete, 429, 1015, None).await;
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
    let health = app.health(&admin).await;
    let target = app.get("/v1/users/alice").await;

    expect_status(other_user, 200).await;
    expect_status(health, 200).await;
    expect_error(target, 502, 1014, None).await;
}

#[tokio::test]
async fn a_fault_without_a_path_hits_any_v1_path_but_never_the_control_plane() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"times": 2})).await;

    app.sandbox_state().await;
    let probe = app.get("/__sandbox/health").await;
    let first = app.health_with(None).await;
    let second = app.call(Method::POST, "/v1/users/login", None, None).await;
    let third = app.health_with(None).await;

    expect_status(probe, 200).await;
    expect_error(first, 500, 1014, None).await;
    expect_error(second, 500, 1014, None).await;
    expect_error(third, 401, 1005, Some(NO_CREDENTIALS)).await;
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

    app.health_with(None).await;
    let listed = faults(&app).await;
    assert_eq!(listed.len(), 1, "faults: {listed:?}");
    assert_eq!(listed[0]["id"], created["id"]);
    assert_eq!(listed[0]["remaining"], 2);
    assert_eq!(
        (&listed[0]["method"], &listed[0]["path"], &listed[0]["code"]),
        (&Value::Null, &json!("/v1/health"), &json!(1016))
    );

    for _ in 0..2 {
        expect_error(app.health_with(None).await, 503, 1016, None).await;
    }

    assert_eq!(faults(&app).await, Vec::<Value>::new());
    expect_error(app.health_with(None).await, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn a_delay_only_fault_delays_the_request_then_serves_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = add_fault(&app, json!({"path": "/v1/health", "delay_ms": 300})).await;
    assert_eq!(created["status"], Value::Null, "created: {created}");

    let start = Instant::now();
    let resp = app.health(&admin).await;
    let elapsed = start.elapsed();

    let body = expect_status(resp, 200).await;
    assert_eq!(body["health"]["gateway_status"], "connected");
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert_eq!(faults(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_delay_with_a_status_delays_then_answers_the_error() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"delay_ms": 200, "status": 429})).await;

    let start = Instant::now();
    let resp = app.health_with(None).await;
    let elapsed = start.elapsed();

    expect_error(resp, 429, 1015, None).await;
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
    let body = expect_error(resp, 502, 1014, Some("upstream down")).await;

    assert_eq!(echoed.as_ref().map(|v| v.as_bytes()), Some(&b"fault-7"[..]));
    assert_eq!(body["errors"][0]["details"], "upstream down");
    let journal = app.get_ok("/__sandbox/requests").await;
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

    let resp = app.health_with(None).await;

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
    let created = expect_status(resp, 201).await;

    assert_eq!(
        (&created["status"], &created["code"], &created["times"]),
        (&json!(429), &json!(1015), &json!(2))
    );
    expect_error(app.health_with(None).await, 429, 1015, None).await;
}

#[tokio::test]
async fn deleting_the_faults_clears_them() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"status": 500, "times": 5})).await;
    add_fault(&app, json!({"method": "GET", "delay_ms": 10})).await;
    assert_eq!(faults(&app).await.len(), 2);

    let resp = app
        .call(Method::DELETE, "/__sandbox/faults", None, None)
        .await;
    let body = expect_status(resp, 200).await;

    assert_eq!(body, json!({"faults": []}));
    assert_eq!(faults(&app).await, Vec::<Value>::new());
    expect_error(app.health_with(None).await, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn a_reset_removes_every_fault() {
    let app = TestApp::spawn().await;
    add_fault(&app, json!({"status": 500, "times": 5})).await;

    let resp = app.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(resp, 200).await;

    assert_eq!(faults(&app).await, Vec::<Value>::new());
    expect_error(app.health_with(None).await, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn invalid_fault_values_are_rejected_with_1009_and_nothing_is_added() {
    let app = TestApp::spawn().await;

    let status = "Parameter 'status' must be an integer from 400 to 599";
    let code = "Parameter 'code' must be an integer from 1 to 65535";
    let delay = "Parameter 'delay_ms' must be an integer from 0 to 300000";
    let path = "Parameter 'path' must be an absolute path without a query, outside /__sandbox";
    let mut failures = Failures::default();
    for (bad, details) in [
        (json!({"status": 200}), status),
        (json!({"status": 600}), status),
        (json!({"status": "oops"}), status),
        (json!({"status": 503.5}), status),
        (json!({"code": 0}), code),
        (json!({"code": -5}), code),
        (
            json!({"times": 0}),
            "Parameter 'times' must be an integer from 1 to 1000000",
        ),
        (json!({"delay_ms": -1}), delay),
        (json!({"delay_ms": 300_001}), delay),
        (
            json!({"method": "GET /"}),
            "Parameter 'method' must be an HTTP method such as GET or POST",
        ),
        (json!({"method": 7}), "Parameter 'method' must be a string"),
        (json!({"path": "v1/health"}), path),
        (json!({"path": "/__sandbox/state"}), path),
        (json!({"path": "/v1/health?x=1"}), path),
        (
            json!({"details": 5}),
            "Parameter 'details' must be a string",
        ),
    ] {
        let r = Reply::of(post_fault(&app, bad.clone()).await).await;
        failures.error(&bad.to_string(), &r, 400, 1009, Some(details));
    }
    failures.assert_none();

    assert_eq!(faults(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_unknown_fault_field_is_rejected_with_1010() {
    let app = TestApp::spawn().await;

    let resp = post_fault(&app, json!({"delay": 100})).await;

    expect_error(resp, 400, 1010, Some("Unknown parameter 'delay'")).await;
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

    expect_decode_error(resp).await;
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
        expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
    expect_error(app.health_with(None).await, 401, 1005, Some(NO_CREDENTIALS)).await;
    let resp = app
        .request(Method::POST, "/__sandbox/faults")
        .bearer_auth(CONTROL_TOKEN)
        .json(&json!({"status": 500}))
        .send()
        .await
        .expect("faults");
    expect_status(resp, 201).await;

    expect_error(app.health_with(None).await, 500, 1014, None).await;
}
