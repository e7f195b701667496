//! Structured hostile cases in-process through the full router, on a fresh
//! memory-only server per case so a failing case replays and shrinks.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::check::check;
use super::strategy::{authorization, hostile, Hostile};
use crate::support::inproc;

/// In-process cases (each a fresh server and one to three requests);
/// `WA_TWOSTEP_HOSTILE_CASES` raises it for a longer run.
const IN_PROCESS_CASES: u32 = 256;

/// Builds the in-process request; `None` when the generated parts cannot form
/// one (such a request cannot reach the router over the wire either).
fn build(h: &Hostile, token: &str) -> Option<Request<Body>> {
    let mut req = Request::builder().method(h.method.clone()).uri(&h.path);
    let mut headers: Vec<(&str, Vec<u8>)> = Vec::new();
    if let Some(a) = authorization(&h.auth, token) {
        headers.push(("authorization", a));
    }
    if let Some(ct) = &h.content_type {
        headers.push(("content-type", ct.clone().into_bytes()));
    }
    if let Some(id) = &h.request_id {
        headers.push(("x-request-id", id.clone()));
    }
    if let Some(cl) = &h.content_length {
        headers.push(("content-length", cl.clone().into_bytes()));
    }
    if let Some(te) = &h.transfer_encoding {
        headers.push(("transfer-encoding", te.clone().into_bytes()));
    }
    for (name, value) in headers {
        // Bytes no HTTP/1.1 parser lets through (CR, LF, NUL…) are left out.
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            req = req.header(HeaderName::from_static(name), v);
        }
    }
    req.body(Body::from(h.body.clone())).ok()
}

#[test]
fn hostile_requests_in_process_always_get_a_well_formed_answer() {
    // Arrange
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases: std::env::var("WA_TWOSTEP_HOSTILE_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(IN_PROCESS_CASES),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(hostile(), 1..4);

    // Act and Assert
    let result = runner.run(&strategy, |requests| {
        rt.block_on(async {
            let (router, token) = inproc::router_with_admin().await;
            for h in &requests {
                let Some(req) = build(h, &token) else {
                    continue;
                };
                let sent_id = req
                    .headers()
                    .get("x-request-id")
                    .map(|v| v.as_bytes().to_vec());
                let reply = inproc::oneshot(&router, req).await;
                check(&h.method, &h.path, &reply, sent_id.as_deref())
                    .map_err(TestCaseError::fail)?;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
