//! `X-Request-ID`: a valid incoming id is echoed and logged, an invalid or missing
//! one is replaced by a fresh 32-hex-digit id, on every kind of response.

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};

use crate::support::*;

/// Whether `s` is a fresh request id: exactly 32 lower-case hex digits.
fn is_fresh_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The `X-Request-ID` of a response, as text.
fn request_id(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("x-request-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

#[tokio::test]
async fn a_valid_incoming_request_id_is_echoed_and_logged() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plain_128: String = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
        .repeat(2)
        .chars()
        .take(128)
        .collect();
    let visible_128: String = (0x21u8..=0x7e).cycle().take(128).map(char::from).collect();
    let cases = [
        ("abc-123", "abc-123".to_owned(), true),
        ("one character", "Z".to_owned(), false),
        ("128 characters", plain_128, true),
        (
            "128 visible ASCII characters incl. punctuation",
            visible_128,
            false,
        ),
        ("edges of the visible range", "!~".to_owned(), false),
    ];
    for (case, id, check_log) in cases {
        // Act
        let resp = app
            .request(Method::DELETE, TWO_STEP)
            .bearer_auth(&admin)
            .header("x-request-id", id.as_str())
            .send()
            .await
            .expect("request");
        // Assert
        assert_eq!(resp.status(), StatusCode::OK, "case {case}");
        assert_eq!(
            request_id(&resp).as_deref(),
            Some(id.as_str()),
            "case {case}: id not echoed"
        );
        // Punctuation may be escaped by the log format, so only plain ids are searched for.
        if check_log {
            assert!(
                app.stderr_containing(&id).await.is_some(),
                "case {case}: id {id} not in the log:\n{}",
                app.stderr()
            );
        }
    }
}

#[tokio::test]
async fn an_invalid_incoming_request_id_is_replaced_by_a_fresh_hex_id() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases: [(&str, HeaderValue); 6] = [
        ("empty", HeaderValue::from_static("")),
        ("contains a space", HeaderValue::from_static("abc 123")),
        ("contains a tab", HeaderValue::from_static("abc\t123")),
        (
            "129 characters",
            HeaderValue::from_str(&"a".repeat(129)).unwrap(),
        ),
        (
            "non-ASCII",
            HeaderValue::from_bytes("req-é-1".as_bytes()).unwrap(),
        ),
        (
            "non-ASCII latin-1 byte",
            HeaderValue::from_bytes(b"req-\xff-1").unwrap(),
        ),
    ];
    for (case, sent) in cases {
        // Act
        let resp = app
            .request(Method::DELETE, TWO_STEP)
            .bearer_auth(&admin)
            .header("x-request-id", sent.clone())
            .send()
            .await
            .expect("request");
        // Assert
        assert_eq!(resp.status(), StatusCode::OK, "case {case}");
        let id = request_id(&resp).unwrap_or_else(|| panic!("case {case}: no X-Request-ID"));
        assert!(
            is_fresh_id(&id),
            "case {case}: {id:?} is not 32 lower-case hex"
        );
        assert_ne!(
            id.as_bytes(),
            sent.as_bytes(),
            "case {case}: invalid id echoed"
        );
        assert!(
            app.stderr_containing(&id).await.is_some(),
            "case {case}: id {id} not in the log:\n{}",
            app.stderr()
        );
    }
}

#[tokio::test]
async fn a_request_without_an_id_gets_a_fresh_hex_id_each_time() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act
    let first = app.get("/v1/nope").await;
    let second = app.get("/v1/nope").await;

    // Assert
    let a = request_id(&first).expect("first X-Request-ID");
    let b = request_id(&second).expect("second X-Request-ID");
    assert!(is_fresh_id(&a), "{a:?} is not 32 lower-case hex");
    assert!(is_fresh_id(&b), "{b:?} is not 32 lower-case hex");
    assert_ne!(a, b, "two requests got the same id");
    assert!(
        app.stderr_containing(&a).await.is_some(),
        "id {a} not in the log:\n{}",
        app.stderr()
    );
    assert!(
        app.stderr_containing(&b).await.is_some(),
        "id {b} not in the log:\n{}",
        app.stderr()
    );
}

#[tokio::test]
async fn the_request_id_is_present_on_404_401_405_and_failed_login_responses() {
    // Arrange
    let app = TestApp::spawn().await;
    let cases: [(&str, Method, &str, Option<String>, StatusCode); 4] = [
        ("404", Method::GET, "/v1/nope", None, StatusCode::NOT_FOUND),
        (
            "401",
            Method::POST,
            TWO_STEP,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "405",
            Method::GET,
            TWO_STEP,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "login 401",
            Method::POST,
            "/v1/users/login",
            Some(basic("admin", "wrong-password")),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (case, method, path, auth, status) in cases {
        for sent in [None, Some(format!("trace-{}", status.as_u16()))] {
            // Act
            let mut req = app.request(method.clone(), path);
            if let Some(auth) = &auth {
                req = req.header("authorization", auth);
            }
            if let Some(sent) = &sent {
                req = req.header("x-request-id", sent);
            }
            let resp = req.send().await.expect("request");
            // Assert
            assert_eq!(resp.status(), status, "case {case}");
            let id = request_id(&resp).unwrap_or_else(|| panic!("case {case}: no X-Request-ID"));
            match &sent {
                Some(sent) => assert_eq!(&id, sent, "case {case}: id not echoed"),
                None => assert!(
                    is_fresh_id(&id),
                    "case {case}: {id:?} is not 32 lower-case hex"
                ),
            }
        }
    }
}
