//! `api.empty_success`: what a successful `POST` / `DELETE` two-step renders
//! (`{}`, `null` or only `meta`, the default); errors keep their envelope.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// Starts a server with `api.empty_success = mode` and returns the replies to a
/// DELETE and a POST two-step (each asserted 200 with a JSON content type), after
/// checking that a 401 keeps its envelope.
async fn empty_success_bodies(mode: &str) -> Vec<(&'static str, Reply)> {
    let app = TestApp::with()
        .env("WA_TWOSTEP_API__EMPTY_SUCCESS", mode)
        .start()
        .await;
    let admin = app.admin_token().await;
    let mut out = Vec::new();
    for (case, resp) in [
        ("DELETE", app.disable_two_step(&admin).await),
        ("POST", app.set_pin(&admin, json!({"pin": "123456"})).await),
    ] {
        let r = Reply::of(resp).await;
        assert_eq!(r.status, 200, "empty_success={mode} {case}: {r:?}");
        assert!(r.is_json(), "empty_success={mode} {case}: {r:?}");
        out.push((case, r));
    }
    // Errors keep their envelope whatever the empty-success form.
    let resp = app.call(Method::DELETE, TWO_STEP, None, None).await;
    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
    out
}

#[tokio::test]
async fn empty_success_object_renders_exactly_an_empty_object() {
    for (case, r) in empty_success_bodies("object").await {
        assert_eq!(r.text(), "{}", "{case}");
    }
}

#[tokio::test]
async fn empty_success_null_renders_exactly_null() {
    for (case, r) in empty_success_bodies("null").await {
        assert_eq!(r.text(), "null", "{case}");
    }
}

#[tokio::test]
async fn empty_success_meta_renders_only_meta() {
    for (case, r) in empty_success_bodies("meta").await {
        assert_eq!(r.json(), meta_only(), "{case}");
    }
}

#[tokio::test]
async fn the_default_empty_success_is_meta() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // Act
    let resp = app.disable_two_step(&admin).await;

    // Assert
    let mut failures = Failures::default();
    failures.success("default DELETE", &Reply::of(resp).await, &meta_only());
    failures.assert_none();
}
