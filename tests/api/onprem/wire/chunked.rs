//! Chunked request bodies (no `Content-Length`) over a raw socket: decoded like
//! any other body, for JSON, forms, errors and a `DELETE`.

use crate::support::raw_http::{chunked_request, exchange};
use crate::support::*;

#[tokio::test]
async fn a_chunked_request_body_is_accepted_for_two_step() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let auth = format!("Authorization: Bearer {admin}");

    // Act: the PIN is split across chunks.
    let req = chunked_request(
        "POST",
        TWO_STEP,
        app.addr,
        &[auth.clone(), format!("Content-Type: {JSON}")],
        &[b"{\"pi", b"n\":\"12", b"3456\"}"],
    );
    let r = exchange(app.addr, &req).await;

    // Assert
    assert!(r.is_json(), "chunked JSON: {r:?}");
    assert_eq!(assert_status(&r, 200), meta_only(), "chunked JSON");
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], true);

    // Act + Assert: chunked errors are decoded the same way.
    let req = chunked_request(
        "POST",
        TWO_STEP,
        app.addr,
        &[auth.clone(), format!("Content-Type: {JSON}")],
        &[b"{\"pin\":", b"\"12345\"}"],
    );
    assert_error(&exchange(app.addr, &req).await, 400, 1009, Some(BAD_PIN));
    let req = chunked_request(
        "POST",
        TWO_STEP,
        app.addr,
        &[auth.clone(), format!("Content-Type: {FORM}")],
        &[b"pin=65", b"4321"],
    );
    assert_status(&exchange(app.addr, &req).await, 200);

    // Act + Assert: a chunked DELETE with a body.
    let req = chunked_request(
        "DELETE",
        TWO_STEP,
        app.addr,
        &[auth, format!("Content-Type: {JSON}")],
        &[b"{}"],
    );
    assert_status(&exchange(app.addr, &req).await, 200);
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], false);
}
