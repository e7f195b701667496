//! The request journal: what it records, what it never records, its
//! capacity, clearing it, reset with and without it, and the control token.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

/// `GET /__sandbox/requests` without a control token, asserting 200; returns the entries.
async fn journal(app: &TestApp) -> Vec<Value> {
    let body = app.get_ok("/__sandbox/requests").await;
    body["requests"].as_array().expect("requests array").clone()
}

/// `GET /v1/health` with an `X-Request-ID` and an optional token; returns the status.
async fn health_with_id(app: &TestApp, id: &str, token: Option<&str>) -> StatusCode {
    let mut req = app
        .request(Method::GET, "/v1/health")
        .header("X-Request-ID", id);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("health").status()
}

/// The request ids of `entries`, in order.
fn ids(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["request_id"].as_str().expect("request_id"))
        .collect()
}

/// Whether `s` is `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_rfc3339_utc_millis(s: &str) -> bool {
    let shape = "9999-99-99T99:99:99.999Z";
    s.len() == shape.len()
        && s.bytes().zip(shape.bytes()).all(|(c, p)| match p {
            b'9' => c.is_ascii_digit(),
            _ => c == p,
        })
}

#[tokio::test]
async fn the_journal_records_method_path_status_request_id_time_and_latency() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    assert_eq!(
        health_with_id(&app, "trace-42", Some(&admin)).await,
        StatusCode::OK
    );
    let entries = journal(&app).await;

    let entry = entries
        .iter()
        .find(|e| e["request_id"] == "trace-42")
        .unwrap_or_else(|| panic!("no entry for trace-42: {entries:?}"));
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["path"], "/v1/health");
    assert_eq!(entry["status"], 200);
    let time = entry["time"].as_str().expect("time");
    assert!(is_rfc3339_utc_millis(time), "time {time:?}");
    let latency = entry["latency_ms"].as_f64().expect("latency_ms number");
    assert!(latency >= 0.0, "latency {latency}");
    let login = &entries[0];
    assert_eq!(
        (&login["method"], &login["path"], &login["status"]),
        (&json!("POST"), &json!("/v1/users/login"), &json!(200))
    );
}

#[tokio::test]
async fn the_journal_lists_requests_oldest_first_with_their_final_status() {
    let app = TestApp::spawn().await;

    health_with_id(&app, "first", None).await;
    app.request(Method::GET, "/v1/nowhere")
        .header("X-Request-ID", "second")
        .send()
        .await
        .expect("unknown path");
    app.request(Method::GET, "/v1/users/login")
        .header("X-Request-ID", "third")
        .send()
        .await
        .expect("wrong method");
    let entries = journal(&app).await;

    assert_eq!(ids(&entries), ["first", "second", "third"]);
    let statuses: Vec<&Value> = entries.iter().map(|e| &e["status"]).collect();
    assert_eq!(statuses, [&json!(401), &json!(404), &json!(405)]);
}

#[tokio::test]
async fn control_plane_requests_are_not_journaled() {
    let app = TestApp::spawn().await;

    app.sandbox_state().await;
    app.get("/__sandbox/health").await;
    journal(&app).await;

    assert_eq!(journal(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_full_journal_drops_the_oldest_requests_first() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__JOURNAL_CAPACITY", "3")
        .start()
        .await;

    for id in ["r1", "r2", "r3", "r4", "r5"] {
        health_with_id(&app, id, None).await;
    }
    let body = app.get_ok("/__sandbox/requests").await;

    assert_eq!(body["capacity"], 3);
    let entries = body["requests"].as_array().expect("requests");
    assert_eq!(ids(entries), ["r3", "r4", "r5"]);
}

#[tokio::test]
async fn a_zero_capacity_journal_records_nothing() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__JOURNAL_CAPACITY", "0")
        .start()
        .await;

    health_with_id(&app, "r1", None).await;

    assert_eq!(journal(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn pins_passwords_and_tokens_never_appear_in_the_journal() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let alice = app.user_token(&admin, "alice", "Alice-Pa55!").await;
    let pin = "482916";
    expect_status(app.set_pin(&admin, json!({ "pin": pin })).await, 200).await;
    app.request(Method::PUT, "/v1/users/alice")
        .bearer_auth(&admin)
        .form(&[("password", "Changed-Pa55!")])
        .send()
        .await
        .expect("change password");
    app.request(Method::GET, &format!("/v1/health?access_token={alice}"))
        .send()
        .await
        .expect("token in query");

    let resp = app.get("/__sandbox/requests").await;
    let text = resp.text().await.expect("body");

    let basic_seed = basic("admin", SEED_PASSWORD);
    let basic_alice = basic("alice", "Alice-Pa55!");
    for secret in [
        pin,
        ADMIN_PASSWORD,
        "Alice-Pa55!",
        "Changed-Pa55!",
        admin.as_str(),
        alice.as_str(),
        &basic_seed["Basic ".len()..],
        &basic_alice["Basic ".len()..],
        "access_token",
    ] {
        assert!(!text.contains(secret), "journal shows {secret:?}: {text}");
    }
    let body: Value = serde_json::from_str(&text).expect("json");
    let paths: Vec<&Value> = body["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|e| &e["path"])
        .collect();
    assert!(paths.contains(&&json!("/v1/health")), "paths: {paths:?}");
    assert!(
        paths.contains(&&json!("/v1/users/alice")),
        "paths: {paths:?}"
    );
}

#[tokio::test]
async fn deleting_the_journal_empties_it() {
    let app = TestApp::spawn().await;
    health_with_id(&app, "before", None).await;

    let resp = app
        .call(Method::DELETE, "/__sandbox/requests", None, None)
        .await;
    let body = expect_status(resp, 200).await;
    health_with_id(&app, "after", None).await;

    assert_eq!(body["requests"], json!([]));
    assert_eq!(ids(&journal(&app).await), ["after"]);
}

#[tokio::test]
async fn a_reset_keeps_the_journal() {
    let app = TestApp::spawn().await;
    health_with_id(&app, "kept", None).await;

    let resp = app.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(resp, 200).await;

    assert_eq!(ids(&journal(&app).await), ["kept"]);
}

#[tokio::test]
async fn a_reset_with_journal_true_clears_the_journal_too() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    health_with_id(&app, "gone", Some(&admin)).await;

    let resp = app
        .call(Method::POST, "/__sandbox/reset?journal=true", None, None)
        .await;
    let state = expect_status(resp, 200).await;

    assert_eq!(state["tokens"], 0, "the state is reset as well: {state}");
    assert_eq!(journal(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_reset_with_an_invalid_journal_value_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = app
        .call(Method::POST, "/__sandbox/reset?journal=maybe", None, None)
        .await;

    expect_error(
        resp,
        400,
        1009,
        Some("Query parameter 'journal' must be true or false"),
    )
    .await;
    assert_eq!(app.sandbox_state().await["tokens"], 1);
    assert_eq!(journal(&app).await.len(), 1);
    assert_eq!(
        health_with_id(&app, "still", Some(&admin)).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn with_a_control_token_the_journal_requires_it() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;
    health_with_id(&app, "r1", None).await;

    for method in [Method::GET, Method::DELETE] {
        for wrong in [None, Some("nope")] {
            let mut req = app.request(method.clone(), "/__sandbox/requests");
            if let Some(t) = wrong {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.expect("journal");
            expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
        }
    }
    let resp = app
        .request(Method::GET, "/__sandbox/requests")
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .expect("journal");
    let body = expect_status(resp, 200).await;

    assert_eq!(ids(body["requests"].as_array().expect("requests")), ["r1"]);
}

#[tokio::test]
async fn a_disabled_control_plane_has_no_journal() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__ENABLED", "false")
        .start()
        .await;
    health_with_id(&app, "r1", None).await;

    let resp = app.get("/__sandbox/requests").await;

    expect_error(resp, 404, 1006, Some(NOT_FOUND)).await;
}
