//! Health that load balancers can trust: `/__sandbox/health` answers 503 with a
//! reason while the server cannot serve — draining after SIGTERM (on connections
//! already open, while in-flight requests finish), or with its state backend
//! unreachable — and 200 again once that is over.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wa_twostep::readiness::Cause;

use crate::support::inproc::{self, InProc};
use crate::support::raw_http::{exchange_on, head, head_keep_alive, read_response};
use crate::support::*;

/// Polls (bounded, 5 s) until no fault is active: the fault that delays the slow
/// request was used, so that request is in flight, in its delay.
async fn until_faults_used(app: &TestApp) {
    for _ in 0..250 {
        let list = app.get_ok("/__sandbox/faults").await;
        if list["faults"].as_array().is_some_and(|f| f.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the delayed request never reached the server");
}

#[tokio::test]
async fn after_sigterm_health_is_503_on_an_open_connection_while_a_slow_request_finishes() {
    // Arrange: a load balancer's keep-alive connection, healthy so far.
    let mut app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__SHUTDOWN_GRACE_SECS", "20")
        .start()
        .await;
    let addr = app.addr;
    let probe = head_keep_alive("GET", "/__sandbox/health", addr, &[]);
    let mut balancer = TcpStream::connect(addr).await.expect("connect");
    let before = exchange_on(&mut balancer, &probe).await;
    assert_eq!(assert_status(&before, 200), json!({"status": "ok"}));
    assert_eq!(before.header("connection"), None, "{before:?}");
    // A slow request in flight on another connection.
    let delay = json!({"method": "GET", "path": "/v1/health", "delay_ms": 2000});
    expect_status(
        app.call(Method::POST, "/__sandbox/faults", None, Some(delay))
            .await,
        201,
    )
    .await;
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(&head("GET", "/v1/health", addr, &[]))
        .await
        .expect("send the slow request");
    until_faults_used(&app).await;

    // Act
    app.terminate();
    app.stderr_containing("shutting down")
        .await
        .expect("the server logs the drain");
    let during = exchange_on(&mut balancer, &probe).await;

    // Assert: the balancer learns of the drain, and is asked to go away.
    assert_eq!(
        assert_status(&during, 503),
        json!({"status": "unavailable", "reason": "shutting down"})
    );
    assert!(during.is_json(), "{during:?}");
    assert_eq!(during.header("connection").as_deref(), Some("close"));
    // No new connection is accepted...
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener still accepts while draining"
    );
    // ...while the slow request gets its real answer, then the server exits 0.
    let answer = read_response(&mut slow, Duration::from_secs(10))
        .await
        .expect("the in-flight request is answered");
    assert_error(&answer, 401, 1005, Some(NO_CREDENTIALS));
    assert!(app.wait_exit().success());
}

#[tokio::test]
async fn an_idle_server_exits_at_once_on_sigterm_even_with_keep_alive_connections_open() {
    // A long grace period, which an idle server must not wait out.
    let mut app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__SHUTDOWN_GRACE_SECS", "60")
        .start()
        .await;
    let mut idle = TcpStream::connect(app.addr).await.expect("connect");
    exchange_on(
        &mut idle,
        &head_keep_alive("GET", "/__sandbox/health", app.addr, &[]),
    )
    .await;
    let started = std::time::Instant::now();

    let status = app.stop();

    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "an idle server took {:?} to stop",
        started.elapsed()
    );
}

#[tokio::test]
async fn health_is_503_while_the_state_backend_is_unreachable_and_200_once_it_is_back() {
    // Arrange: the flag a state backend that can lose its connection reports through.
    let app = inproc::build(inproc::settings()).await;
    let backend = app.readiness().flag(Cause::StateBackend);
    let server = InProc::serve(app);
    server.assert_probe_ok().await;

    // Act
    backend.down("state backend unreachable");
    let down = Reply::of(server.get("/__sandbox/health").await).await;
    backend.up();

    // Assert
    assert!(down.is_json(), "{down:?}");
    assert_eq!(
        assert_status(&down, 503),
        json!({"status": "unavailable", "reason": "state backend unreachable"})
    );
    server.assert_probe_ok().await;
    server.stop().await;
}

#[tokio::test]
async fn a_sigterm_right_after_the_ready_line_is_a_clean_exit() {
    // The handlers are in place before the line is printed: a supervisor that
    // stops the server as soon as it is ready gets exit 0, never death by signal.
    for _ in 0..5 {
        let mut app = TestApp::with().start().await;
        let status = app.stop();
        assert!(status.success(), "{status:?}");
    }
}
