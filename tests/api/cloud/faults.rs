//! Faults and timeouts on Cloud paths answer in the Graph envelope: a fault names
//! the Cloud path and Graph codes (its defaults come from the Graph table), a
//! fault without a path leaves Cloud paths alone, and a request that outlives the
//! timeout is a Graph 408.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn add_fault(app: &TestApp, body: Value) -> Value {
    let resp = app
        .call(Method::POST, "/__sandbox/faults", None, Some(body))
        .await;
    expect_status(resp, 201).await
}

#[tokio::test]
async fn a_fault_on_a_cloud_path_answers_in_the_graph_envelope() {
    let app = cloud_spawn().start().await;
    let register = graph_path(&format!("{PHONE_ID}/register"));
    let created = add_fault(&app, json!({"path": register, "status": 503, "times": 1})).await;
    add_fault(&app, json!({"path": register, "code": 133005})).await;

    let overloaded = Reply::of(app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await).await;
    let mismatch = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let served = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;

    assert_eq!(
        (created["status"].clone(), created["code"].clone()),
        (json!(503), json!(133004))
    );
    let want = Want::new(503, 133004, "(#133004) Server Temporarily Unavailable")
        .details("Server is temporarily unavailable.");
    assert_eq!(
        assert_graph_error(&overloaded, &want)["error"]["is_transient"],
        true
    );
    expect_graph_error(mismatch, pin_mismatch()).await;
    expect_graph_success(served).await;
}

#[tokio::test]
async fn a_fault_without_a_path_leaves_cloud_paths_alone() {
    let app = cloud_spawn().start().await;
    add_fault(&app, json!({"status": 500, "times": 5})).await;

    let cloud = app
        .graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
        .await;
    let onprem = app.get("/v1/health").await;

    expect_graph_success(cloud).await;
    expect_error(onprem, 500, 1014, None).await;
}

#[tokio::test]
async fn a_cloud_request_that_outlives_the_timeout_is_a_graph_408() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_SERVER__REQUEST_TIMEOUT_SECS", "1")
        .start()
        .await;
    add_fault(
        &app,
        json!({"path": graph_path(PHONE_ID), "delay_ms": 3000}),
    )
    .await;

    let resp = app
        .graph(Method::GET, PHONE_ID, Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("slow");

    let want =
        Want::new(408, 131000, "(#131000) Something went wrong").details("Request timed out");
    expect_graph_error(resp, want).await;
}
