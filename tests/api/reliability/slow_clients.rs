//! Slow and misbehaving clients over raw sockets: headers that never finish or
//! trickle in are cut off, a body that never finishes gets 408 / 1014, and an
//! oversized or unauthenticated request is answered without waiting for its body.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::raw_http::{self, head};
use crate::support::*;

/// How long a test waits for the server to react to a misbehaving client.
const REACTION: Duration = Duration::from_secs(5);

/// Head of a JSON `POST` to the two-step endpoint with `extra` header lines.
fn two_step_post_head(addr: std::net::SocketAddr, extra: &[String]) -> Vec<u8> {
    let mut headers = vec![format!("Content-Type: {JSON}")];
    headers.extend_from_slice(extra);
    head("POST", TWO_STEP, addr, &headers)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__HEADER_READ_TIMEOUT_SECS", "1")
        .start()
        .await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");

    // Act
    stream
        .write_all(b"GET /__sandbox/health HTTP/1.1\r\n")
        .await
        .expect("write partial head");
    let started = Instant::now();

    // Assert
    raw_http::wait_for_close(&mut stream, REACTION)
        .await
        .expect("the server did not close the connection within 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "closed after {:?}, before the timeout could fire",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__HEADER_READ_TIMEOUT_SECS", "1")
        .start()
        .await;
    let stream = TcpStream::connect(app.addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();

    // Act: one header byte every 100 ms, never the blank line
    let trickle = tokio::spawn(async move {
        if write
            .write_all(b"GET /__sandbox/health HTTP/1.1\r\nX-Slow: ")
            .await
            .is_err()
        {
            return;
        }
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b"a").await.is_err() {
                return;
            }
        }
    });

    // Assert
    let result = raw_http::wait_for_close(&mut read, REACTION).await;
    trickle.abort();
    result.expect("a trickling client held the connection for more than 5 s");
}

#[tokio::test]
async fn a_body_that_never_finishes_arriving_gets_408_1014() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__REQUEST_TIMEOUT_SECS", "1")
        .start()
        .await;
    let token = app.admin_token().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = two_step_post_head(
        app.addr,
        &[
            format!("Authorization: Bearer {token}"),
            "Content-Length: 100".to_owned(),
        ],
    );

    // Act: 10 of the 100 announced bytes, then silence
    stream.write_all(&head).await.expect("write head");
    stream
        .write_all(br#"{"pin":"12"#)
        .await
        .expect("write partial body");
    let resp = raw_http::read_response(&mut stream, REACTION).await;

    // Assert
    if let Some(resp) = resp {
        assert_error(&resp, 408, 1014, Some("Request timed out"));
    }
    let state = app.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], false, "state: {state}");
}

#[tokio::test]
async fn a_content_length_over_the_limit_gets_413_1009_without_waiting_for_the_body() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = two_step_post_head(
        app.addr,
        &[
            format!("Authorization: Bearer {token}"),
            "Content-Length: 1000000".to_owned(),
        ],
    );

    // Act: announce a megabyte, send only a few bytes (the default request timeout is 30 s)
    stream.write_all(&head).await.expect("write head");
    stream
        .write_all(br#"{"pin":"#)
        .await
        .expect("write body start");
    let resp = raw_http::read_response(&mut stream, REACTION)
        .await
        .expect("a response, not a bare close");

    // Assert
    assert_error(&resp, 413, 1009, Some("Request body exceeds 65536 bytes"));
}

#[tokio::test]
async fn an_unauthenticated_oversized_request_is_rejected_with_401_before_its_body() {
    // Arrange
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = two_step_post_head(app.addr, &["Content-Length: 1000000".to_owned()]);

    // Act
    stream.write_all(&head).await.expect("write head");
    let resp = raw_http::read_response(&mut stream, REACTION)
        .await
        .expect("a response, not a bare close");

    // Assert
    assert_error(&resp, 401, 1005, Some(NO_CREDENTIALS));
}
