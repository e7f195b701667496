//! The request body limit (`server.body_limit_bytes`): over it is 413 / 1009
//! naming the limit, exactly the limit is accepted, with `Content-Length` or
//! chunked; auth and role are checked before the size, without waiting for the body.

use reqwest::Method;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::raw_http::{self, chunk, chunked_request, exchange, head};
use crate::support::*;

const TOO_LARGE: &str = "Request body exceeds 1024 bytes";

/// A server whose body limit is 1024 bytes.
async fn small_limit_app() -> TestApp {
    TestApp::with()
        .env("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "1024")
        .start()
        .await
}

/// `{"pin":"123456"}` padded with trailing JSON whitespace to exactly `len` bytes.
fn padded_pin_body(len: usize) -> String {
    let body = r#"{"pin":"123456"}"#;
    format!("{body}{}", " ".repeat(len - body.len()))
}

/// `POST` two-step with a JSON `body` and an optional bearer token, read.
async fn post_json(app: &TestApp, token: Option<&str>, body: String) -> Reply {
    let mut req = app
        .request(Method::POST, TWO_STEP)
        .header("content-type", JSON)
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    Reply::of(req.send().await.expect("request")).await
}

#[tokio::test]
async fn a_body_over_the_limit_is_rejected_with_413_and_1009() {
    // Arrange
    let app = small_limit_app().await;
    let admin = app.admin_token().await;
    let auth = format!("Authorization: Bearer {admin}");
    let mut failures = Failures::default();

    // Act + Assert: Content-Length, one byte over and well over.
    for total in [1025, 1500] {
        let r = post_json(&app, Some(&admin), padded_pin_body(total)).await;
        failures.error(
            &format!("Content-Length {total}"),
            &r,
            413,
            1009,
            Some(TOO_LARGE),
        );
    }

    // Act + Assert: chunked, no Content-Length, one byte over and well over.
    for total in [1025, 1500] {
        let body = padded_pin_body(total);
        let (a, b) = body.as_bytes().split_at(700);
        let req = chunked_request(
            "POST",
            TWO_STEP,
            app.addr,
            &[auth.clone(), format!("Content-Type: {JSON}")],
            &[a, b],
        );
        let r = exchange(app.addr, &req).await;
        failures.error(&format!("chunked {total}"), &r, 413, 1009, Some(TOO_LARGE));
    }
    failures.assert_none();
    assert_eq!(
        app.sandbox_state().await["two_step"]["enabled"],
        false,
        "an oversized body enabled two-step"
    );
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_accepted() {
    // Arrange
    let app = small_limit_app().await;
    let admin = app.admin_token().await;

    // Act: Content-Length 1024.
    let r = post_json(&app, Some(&admin), padded_pin_body(1024)).await;

    // Assert
    assert_eq!(assert_status(&r, 200), meta_only());

    // Act: chunked, 1024 bytes in three chunks.
    let body = padded_pin_body(1024);
    let bytes = body.as_bytes();
    let req = chunked_request(
        "POST",
        TWO_STEP,
        app.addr,
        &[
            format!("Authorization: Bearer {admin}"),
            format!("Content-Type: {JSON}"),
        ],
        &[&bytes[..10], &bytes[10..600], &bytes[600..]],
    );
    let r = exchange(app.addr, &req).await;

    // Assert
    assert_eq!(assert_status(&r, 200), meta_only(), "chunked 1024");
}

#[tokio::test]
async fn an_oversized_request_is_checked_for_auth_and_role_before_its_size() {
    // Arrange
    let app = small_limit_app().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "operator1", "Operat0r-Pass!").await;
    let mut failures = Failures::default();

    // Act + Assert: no token, bad token, non-admin, all with a 1500-byte body.
    let r = post_json(&app, None, padded_pin_body(1500)).await;
    failures.error("no token", &r, 401, 1005, Some(NO_CREDENTIALS));
    let r = post_json(&app, Some("bogus"), padded_pin_body(1500)).await;
    failures.error("bad token", &r, 401, 1005, Some(NO_CREDENTIALS));
    let r = post_json(&app, Some(&user), padded_pin_body(1500)).await;
    failures.error("non-admin", &r, 403, 1005, Some(NO_PERMISSION));
    failures.assert_none();
}

#[tokio::test]
async fn an_unauthenticated_request_is_answered_without_waiting_for_its_body() {
    // Arrange: a huge declared body of which not one byte is sent.
    let app = small_limit_app().await;
    let req = head(
        "POST",
        TWO_STEP,
        app.addr,
        &[
            format!("Content-Type: {JSON}"),
            "Content-Length: 10000000".to_owned(),
        ],
    );

    // Act
    let r = exchange(app.addr, &req).await;

    // Assert
    assert_error(&r, 401, 1005, Some(NO_CREDENTIALS));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413_1009() {
    // Arrange
    let app = small_limit_app().await;
    let token = app.admin_token().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = head(
        "POST",
        TWO_STEP,
        app.addr,
        &[
            format!("Content-Type: {JSON}"),
            format!("Authorization: Bearer {token}"),
            "Transfer-Encoding: chunked".to_owned(),
        ],
    );
    let payload = format!("{{\"pin\": \"123456\"{}}}", " ".repeat(2000));
    let mut chunked = chunk(payload.as_bytes());
    chunked.extend_from_slice(b"0\r\n\r\n");

    // Act
    stream.write_all(&head).await.expect("write head");
    let _ = stream.write_all(&chunked).await; // the server may stop reading early
    let r = raw_http::read_response(&mut stream, raw_http::RAW_TIMEOUT)
        .await
        .expect("a response, not a bare close");

    // Assert
    assert_error(&r, 413, 1009, Some(TOO_LARGE));
    let state = app.sandbox_state().await;
    assert_eq!(
        state["two_step"]["enabled"], false,
        "an oversized body changed the state"
    );
}

#[tokio::test]
async fn a_configured_body_limit_is_enforced_and_named_in_the_details() {
    // Arrange
    let app = small_limit_app().await;
    let token = app.admin_token().await;
    let body = format!("{{\"pin\": \"123456\"{}}}", " ".repeat(2000));

    // Act
    let r = post_json(&app, Some(&token), body).await;

    // Assert
    assert_error(&r, 413, 1009, Some(TOO_LARGE));
}
