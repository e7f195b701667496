//! The Graph check order: path and version → token → object → scope →
//! parameters → the operation. No token beats everything after the version, an
//! unknown object beats a bad PIN, and a missing scope beats bad parameters.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::support::*;

const MESSAGING_ONLY: &str = "EAAmessagingonlyorder0123456789abcdefghij";

#[tokio::test]
async fn no_token_beats_an_unknown_object_an_unknown_path_and_a_bad_body() {
    let app = cloud_spawn().start().await;

    let unknown_object = app
        .graph(Method::POST, "999", None)
        .json(&json!({"pin": "1"}))
        .send()
        .await
        .expect("a");
    let unknown_path = app
        .graph(Method::POST, &format!("{PHONE_ID}/x/y"), None)
        .send()
        .await
        .expect("b");
    let malformed = app
        .graph(Method::POST, PHONE_ID, None)
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("c");
    let method = app
        .graph(Method::DELETE, PHONE_ID, None)
        .send()
        .await
        .expect("d");

    for resp in [unknown_object, unknown_path, malformed, method] {
        expect_graph_error(resp, no_token()).await;
    }
}

#[tokio::test]
async fn a_newer_version_is_refused_before_the_token_is_looked_at() {
    let app = cloud_spawn().start().await;

    // However many digits: a version part too long for a number is still newer.
    for version in [
        "v99.0",
        "v9999999.0",
        "v26.1000000",
        "v99999999999999999999.0",
    ] {
        let resp = app
            .request(Method::POST, &format!("/{version}/{PHONE_ID}/register"))
            .send()
            .await
            .expect("newer version");

        expect_graph_error(resp, unknown_path(&format!("/{PHONE_ID}/register"))).await;
    }
}

#[tokio::test]
async fn a_bad_token_beats_an_unknown_object() {
    let app = cloud_spawn().start().await;

    let resp = app.graph_set_pin("EAAwrong", "999", json!("12")).await;

    expect_graph_error(resp, bad_token()).await;
}

#[tokio::test]
async fn an_unknown_object_beats_a_bad_pin_and_a_bad_body() {
    let app = cloud_spawn().start().await;

    let bad_pin = app.graph_set_pin(CLOUD_TOKEN, "999", json!("12")).await;
    let register = app.graph_register(CLOUD_TOKEN, "999", "12").await;
    let malformed = app
        .graph(Method::POST, "999", Some(CLOUD_TOKEN))
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("malformed");

    expect_graph_error(bad_pin, unsupported("post", "999")).await;
    expect_graph_error(register, unsupported("post", "999")).await;
    expect_graph_error(malformed, unsupported("post", "999")).await;
}

#[tokio::test]
async fn the_scope_is_checked_after_the_object_and_before_the_parameters() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let seed = dir.path().join("seed.json");
    let text = json!({"cloud_tokens": [{"token": MESSAGING_ONLY, "scopes": ["whatsapp_business_messaging"]}]});
    std::fs::write(&seed, text.to_string()).expect("seed");
    let mut spawn = cloud_spawn()
        .arg("--seed")
        .arg(seed.to_str().expect("path"));
    spawn.dir = Some(dir);
    let app = spawn.start().await;

    let unknown_object = app.graph_set_pin(MESSAGING_ONLY, "999", json!("12")).await;
    let bad_pin = app
        .graph_set_pin(MESSAGING_ONLY, PHONE_ID, json!("12"))
        .await;

    expect_graph_error(unknown_object, unsupported("post", "999")).await;
    expect_graph_error(bad_pin, no_permission()).await;
}

#[tokio::test]
async fn bad_parameters_are_reported_before_any_pin_check_or_change() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "1")
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
            .await,
    )
    .await;

    let short = app.graph_register(CLOUD_TOKEN, PHONE_ID, "12345").await;
    let right = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;

    expect_graph_error(short, pin_length()).await;
    expect_graph_success(right).await; // the malformed PIN was not counted as a guess
}

#[tokio::test]
async fn a_body_over_the_limit_without_a_token_elsewhere_is_no_token() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "64")
        .start()
        .await;
    let big = json!({"pin": "123456", "access_token": CLOUD_TOKEN, "pad": "x".repeat(100)});

    // The token may be in the body, but a body over the limit is not read.
    let resp = app
        .graph(Method::POST, PHONE_ID, None)
        .json(&big)
        .send()
        .await
        .expect("big");

    expect_graph_error(resp, no_token()).await;
}
