//! Wire conventions every `/v1` response follows (SPEC §1): JSON envelope with `meta`,
//! 404/405, X-Request-ID, body limit, malformed JSON, chunked bodies, empty success forms.
//! Black-box over real TCP; raw sockets where reqwest cannot say what the test needs.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::helpers::*;

const JSON: &str = "application/json";
const NOT_FOUND: &str = "URL path not found";
const NO_CREDENTIALS: &str = "Missing or invalid authentication credentials";
const TOO_LARGE: &str = "Request body exceeds 1024 bytes";
const DECODE_PREFIX: &str = "Unable to decode the request: ";

/// The default `meta` object.
fn meta() -> Value {
    json!({"version": "v2.45.1", "api_status": "stable"})
}

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

/// Waits (bounded, 5 s) until the server log contains `needle`; logs may be flushed
/// just after the response, and there is no other signal for that.
async fn log_contains(app: &TestApp, needle: &str) -> bool {
    for _ in 0..250 {
        if app.stderr().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A response read off a raw socket.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("raw body is not JSON: {e}: {}", self.text()))
    }

    /// Asserts the error envelope `(status, code, details)` and the JSON content type.
    #[track_caller]
    fn assert_error(&self, case: &str, status: u16, code: i64, details: &str) {
        let body = self.json();
        assert_eq!(
            self.status,
            status,
            "case {case}: status; body {}",
            self.text()
        );
        let ctype = self.header("content-type").unwrap_or_default();
        assert!(
            ctype.starts_with(JSON),
            "case {case}: content-type {ctype:?}"
        );
        assert_eq!(
            body["errors"][0]["code"], code,
            "case {case}: code; body {body}"
        );
        assert_eq!(
            body["errors"][0]["title"],
            title_of(code),
            "case {case}: title; body {body}"
        );
        assert_eq!(
            body["errors"][0]["details"], details,
            "case {case}: details; body {body}"
        );
        assert_eq!(body["meta"], meta(), "case {case}: meta; body {body}");
    }
}

/// Decodes a complete chunked body, or `None` if more bytes are needed.
fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers end with an empty line.
            return data.windows(2).any(|w| w == b"\r\n").then_some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Parses one response from `buf`, or `None` if it is not complete yet (`eof`: no more bytes come).
fn parse_response(buf: &[u8], eof: bool) -> Option<Raw> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &buf[head_end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = find("content-length") {
        let len: usize = len.parse().expect("content-length");
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest)?
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Raw {
        status,
        headers,
        body,
    })
}

/// Writes `request` verbatim to a fresh connection and reads one response (10 s bound).
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Raw {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write request");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await.expect("read response");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(raw) = parse_response(&buf, n == 0) {
                return raw;
            }
            assert!(
                n > 0,
                "connection closed before a full response: {}",
                String::from_utf8_lossy(&buf)
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("no response within 10 s")
}

/// Request head for `method path` with the given extra header lines (each without CRLF).
fn head(method: &str, path: &str, addr: SocketAddr, headers: &[String]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// A chunked request: head with `Transfer-Encoding: chunked` plus the parts as chunks.
fn chunked_request(
    method: &str,
    path: &str,
    addr: SocketAddr,
    headers: &[String],
    parts: &[&[u8]],
) -> Vec<u8> {
    let mut headers = headers.to_vec();
    headers.push("Transfer-Encoding: chunked".to_owned());
    let mut req = head(method, path, addr, &headers);
    for part in parts {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// Asserts a JSON content type and returns the parsed body.
async fn json_body(resp: reqwest::Response, case: &str) -> (StatusCode, Value) {
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let text = resp.text().await.expect("body");
    assert!(
        ctype.starts_with(JSON),
        "case {case}: content-type {ctype:?}; body {text}"
    );
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("case {case}: not JSON: {e}: {text}"));
    (status, body)
}

#[tokio::test]
async fn every_v1_response_is_json_and_carries_meta() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // Act
    let success = app.disable_two_step(&admin).await;
    let unauthorized = app
        .request(Method::DELETE, TWO_STEP)
        .send()
        .await
        .expect("401");
    let not_found = app
        .request(Method::GET, "/v1/nope")
        .send()
        .await
        .expect("404");

    // Assert
    for (case, resp, status) in [
        ("success", success, StatusCode::OK),
        ("401", unauthorized, StatusCode::UNAUTHORIZED),
        ("404", not_found, StatusCode::NOT_FOUND),
    ] {
        let (got, body) = json_body(resp, case).await;
        assert_eq!(got, status, "case {case}: status; body {body}");
        assert_eq!(body["meta"], meta(), "case {case}: meta; body {body}");
    }
}

#[tokio::test]
async fn an_unknown_path_is_404_with_1006_with_or_without_a_token() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases: [(&str, Method, &str, Option<&str>); 8] = [
        ("GET /v1/nope, no token", Method::GET, "/v1/nope", None),
        (
            "GET /v1/nope, admin token",
            Method::GET,
            "/v1/nope",
            Some(admin.as_str()),
        ),
        (
            "GET /v1/nope, bad token",
            Method::GET,
            "/v1/nope",
            Some("bogus"),
        ),
        ("POST /v1/nope, no token", Method::POST, "/v1/nope", None),
        ("GET /nope, no token", Method::GET, "/nope", None),
        (
            "GET /nope, admin token",
            Method::GET,
            "/nope",
            Some(admin.as_str()),
        ),
        (
            "POST below two-step, admin token",
            Method::POST,
            "/v1/settings/account/two-step/x",
            Some(admin.as_str()),
        ),
        (
            "POST /v1/settings/account, no token",
            Method::POST,
            "/v1/settings/account",
            None,
        ),
    ];
    for (case, method, path, token) in cases {
        // Act
        let mut req = app
            .request(method, path)
            .header("content-type", JSON)
            .body(r#"{"pin": "#);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        // Assert
        let (status, body) = json_body(resp, case).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "case {case}: body {body}");
        assert_eq!(body["errors"][0]["code"], 1006, "case {case}: body {body}");
        assert_eq!(
            body["errors"][0]["title"],
            title_of(1006),
            "case {case}: body {body}"
        );
        assert_eq!(
            body["errors"][0]["details"], NOT_FOUND,
            "case {case}: body {body}"
        );
        assert_eq!(body["meta"], meta(), "case {case}: body {body}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_two_step_is_405_with_1014_no_details_and_an_allow_header() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases: [(&str, Method, Option<&str>); 4] = [
        ("GET, admin token", Method::GET, Some(admin.as_str())),
        ("GET, no token (route before auth)", Method::GET, None),
        ("PUT, admin token", Method::PUT, Some(admin.as_str())),
        ("PATCH, bad token", Method::PATCH, Some("bogus")),
    ];
    for (case, method, token) in cases {
        // Act
        let mut req = app.request(method, TWO_STEP);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let allow = resp
            .headers()
            .get_all("allow")
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
            .join(",");
        // Assert
        let (status, body) = json_body(resp, case).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "case {case}: body {body}"
        );
        assert_eq!(body["errors"][0]["code"], 1014, "case {case}: body {body}");
        assert_eq!(
            body["errors"][0]["title"], "Internal error",
            "case {case}: body {body}"
        );
        let error = body["errors"][0].as_object().expect("error object");
        assert!(
            !error.contains_key("details"),
            "case {case}: 405 must have no details: {body}"
        );
        assert_eq!(body["meta"], meta(), "case {case}: body {body}");
        let methods: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        assert!(
            methods.iter().any(|m| m == "POST") && methods.iter().any(|m| m == "DELETE"),
            "case {case}: Allow {allow:?} lacks POST or DELETE"
        );
    }
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
                log_contains(&app, &id).await,
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
            log_contains(&app, &id).await,
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
    let first = app
        .request(Method::GET, "/v1/nope")
        .send()
        .await
        .expect("first");
    let second = app
        .request(Method::GET, "/v1/nope")
        .send()
        .await
        .expect("second");

    // Assert
    let a = request_id(&first).expect("first X-Request-ID");
    let b = request_id(&second).expect("second X-Request-ID");
    assert!(is_fresh_id(&a), "{a:?} is not 32 lower-case hex");
    assert!(is_fresh_id(&b), "{b:?} is not 32 lower-case hex");
    assert_ne!(a, b, "two requests got the same id");
    assert!(
        log_contains(&app, &a).await,
        "id {a} not in the log:\n{}",
        app.stderr()
    );
    assert!(
        log_contains(&app, &b).await,
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

#[tokio::test]
async fn a_body_over_the_limit_is_rejected_with_413_and_1009() {
    // Arrange
    let app = small_limit_app().await;
    let admin = app.admin_token().await;
    let auth = format!("Authorization: Bearer {admin}");

    // Act + Assert: Content-Length, one byte over.
    let resp = app
        .request(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .header("content-type", JSON)
        .body(padded_pin_body(1025))
        .send()
        .await
        .expect("request");
    expect_error_details(
        resp,
        StatusCode::PAYLOAD_TOO_LARGE,
        1009,
        TOO_LARGE,
        "Content-Length 1025",
    )
    .await;

    // Act + Assert: Content-Length, well over.
    let resp = app
        .request(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .header("content-type", JSON)
        .body(padded_pin_body(1500))
        .send()
        .await
        .expect("request");
    expect_error_details(
        resp,
        StatusCode::PAYLOAD_TOO_LARGE,
        1009,
        TOO_LARGE,
        "Content-Length 1500",
    )
    .await;

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
        raw_exchange(app.addr, &req).await.assert_error(
            &format!("chunked {total}"),
            413,
            1009,
            TOO_LARGE,
        );
    }
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
    let resp = app
        .request(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .header("content-type", JSON)
        .body(padded_pin_body(1024))
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        json!({"meta": meta()})
    );

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
    let raw = raw_exchange(app.addr, &req).await;

    // Assert
    assert_eq!(raw.status, 200, "chunked 1024: {}", raw.text());
    assert_eq!(raw.json(), json!({"meta": meta()}));
}

#[tokio::test]
async fn an_oversized_request_is_checked_for_auth_and_role_before_its_size() {
    // Arrange
    let app = small_limit_app().await;
    let admin = app.admin_token().await;
    let user = app.user_token(&admin, "operator1", "Operat0r-Pass!").await;

    // Act + Assert: no token, bad token, non-admin, all with a 1500-byte body.
    let resp = app
        .request(Method::POST, TWO_STEP)
        .header("content-type", JSON)
        .body(padded_pin_body(1500))
        .send()
        .await
        .expect("request");
    expect_error_details(
        resp,
        StatusCode::UNAUTHORIZED,
        1005,
        NO_CREDENTIALS,
        "no token",
    )
    .await;
    let resp = app
        .request(Method::POST, TWO_STEP)
        .bearer_auth("bogus")
        .header("content-type", JSON)
        .body(padded_pin_body(1500))
        .send()
        .await
        .expect("request");
    expect_error_details(
        resp,
        StatusCode::UNAUTHORIZED,
        1005,
        NO_CREDENTIALS,
        "bad token",
    )
    .await;
    let resp = app
        .request(Method::POST, TWO_STEP)
        .bearer_auth(&user)
        .header("content-type", JSON)
        .body(padded_pin_body(1500))
        .send()
        .await
        .expect("request");
    expect_error_details(
        resp,
        StatusCode::FORBIDDEN,
        1005,
        "User doesn't have permission",
        "non-admin",
    )
    .await;
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
    let raw = raw_exchange(app.addr, &req).await;

    // Assert
    raw.assert_error("no token, body never sent", 401, 1005, NO_CREDENTIALS);
}

#[tokio::test]
async fn malformed_json_is_rejected_with_1025() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("truncated object", r#"{"pin": "123456""#),
        ("unquoted key", r#"{pin: "123456"}"#),
        ("not JSON at all", "pin=123456"),
        ("trailing garbage", r#"{"pin": "123456"} x"#),
        ("single quotes", "{'pin': '123456'}"),
    ];
    for (case, body) in cases {
        // Act
        let resp = app
            .request(Method::POST, TWO_STEP)
            .bearer_auth(&admin)
            .header("content-type", JSON)
            .body(body)
            .send()
            .await
            .expect("request");
        // Assert
        let body = expect_error(resp, StatusCode::BAD_REQUEST, 1025).await;
        let details = body["errors"][0]["details"].as_str().unwrap_or_default();
        let reason = details.strip_prefix(DECODE_PREFIX);
        assert!(
            reason.is_some_and(|r| !r.trim().is_empty()),
            "case {case}: details {details:?} do not start with {DECODE_PREFIX:?} plus a reason"
        );
    }
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], false);
}

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
    let raw = raw_exchange(app.addr, &req).await;

    // Assert
    assert_eq!(raw.status, 200, "chunked JSON: {}", raw.text());
    assert!(raw
        .header("content-type")
        .unwrap_or_default()
        .starts_with(JSON));
    assert_eq!(raw.json(), json!({"meta": meta()}));
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], true);

    // Act + Assert: chunked errors are decoded the same way.
    let req = chunked_request(
        "POST",
        TWO_STEP,
        app.addr,
        &[auth.clone(), format!("Content-Type: {JSON}")],
        &[b"{\"pin\":", b"\"12345\"}"],
    );
    raw_exchange(app.addr, &req).await.assert_error(
        "chunked five-digit pin",
        400,
        1009,
        "Pin must be a 6-digit number",
    );
    let req = chunked_request(
        "POST",
        TWO_STEP,
        app.addr,
        &[
            auth.clone(),
            "Content-Type: application/x-www-form-urlencoded".to_owned(),
        ],
        &[b"pin=65", b"4321"],
    );
    let raw = raw_exchange(app.addr, &req).await;
    assert_eq!(raw.status, 200, "chunked form: {}", raw.text());

    // Act + Assert: a chunked DELETE with a body.
    let req = chunked_request(
        "DELETE",
        TWO_STEP,
        app.addr,
        &[auth, format!("Content-Type: {JSON}")],
        &[b"{}"],
    );
    let raw = raw_exchange(app.addr, &req).await;
    assert_eq!(raw.status, 200, "chunked DELETE: {}", raw.text());
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], false);
}

#[tokio::test]
async fn a_delete_with_a_body_ignores_the_body() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        ("JSON {}", JSON, "{}"),
        ("garbage with JSON content type", JSON, "{not json"),
        ("JSON with a pin", JSON, r#"{"pin":"1"}"#),
        ("garbage as text/plain", "text/plain", "\u{1}garbage"),
    ];
    for (case, ctype, body) in cases {
        expect_status(
            app.set_pin(&admin, json!({"pin": "123456"})).await,
            StatusCode::OK,
        )
        .await;
        // Act
        let resp = app
            .request(Method::DELETE, TWO_STEP)
            .bearer_auth(&admin)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .expect("request");
        // Assert
        let (status, got) = json_body(resp, case).await;
        assert_eq!(status, StatusCode::OK, "case {case}: body {got}");
        assert_eq!(got, json!({"meta": meta()}), "case {case}");
        let state = app.sandbox_state().await;
        assert_eq!(
            state["two_step"]["enabled"], false,
            "case {case}: not disabled: {state}"
        );
    }
}

/// Starts a server with `api.empty_success = mode` and returns the raw text and
/// content type of a DELETE and a POST two-step, plus a 401 body.
async fn empty_success_bodies(mode: &str) -> Vec<(String, String, String)> {
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
        assert_eq!(resp.status(), StatusCode::OK, "empty_success={mode} {case}");
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        out.push((case.to_owned(), ctype, resp.text().await.expect("body")));
    }
    // Errors keep their envelope whatever the empty-success form.
    let resp = app
        .request(Method::DELETE, TWO_STEP)
        .send()
        .await
        .expect("401");
    let body = expect_error(resp, StatusCode::UNAUTHORIZED, 1005).await;
    assert_eq!(body["meta"], meta(), "empty_success={mode}: error meta");
    out
}

#[tokio::test]
async fn empty_success_object_renders_exactly_an_empty_object() {
    for (case, ctype, text) in empty_success_bodies("object").await {
        assert!(ctype.starts_with(JSON), "{case}: content-type {ctype:?}");
        assert_eq!(text, "{}", "{case}");
    }
}

#[tokio::test]
async fn empty_success_null_renders_exactly_null() {
    for (case, ctype, text) in empty_success_bodies("null").await {
        assert!(ctype.starts_with(JSON), "{case}: content-type {ctype:?}");
        assert_eq!(text, "null", "{case}");
    }
}

#[tokio::test]
async fn empty_success_meta_renders_only_meta() {
    for (case, ctype, text) in empty_success_bodies("meta").await {
        assert!(ctype.starts_with(JSON), "{case}: content-type {ctype:?}");
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{case}: {e}: {text}"));
        assert_eq!(body, json!({"meta": meta()}), "{case}");
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
    let (status, body) = json_body(resp, "default DELETE").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"meta": meta()}));
}

#[tokio::test]
async fn the_configured_api_version_shows_in_meta() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_API__VERSION", "v9.9.9")
        .start()
        .await;
    let admin = app.admin_token().await;
    let expected = json!({"version": "v9.9.9", "api_status": "stable"});

    // Act
    let success = app.disable_two_step(&admin).await;
    let not_found = app
        .request(Method::GET, "/v1/nope")
        .send()
        .await
        .expect("404");
    let unauthorized = app
        .request(Method::DELETE, TWO_STEP)
        .send()
        .await
        .expect("401");

    // Assert
    let (_, body) = json_body(success, "success").await;
    assert_eq!(body, json!({"meta": expected}), "success");
    for (case, resp) in [("404", not_found), ("401", unauthorized)] {
        let (_, body) = json_body(resp, case).await;
        assert_eq!(body["meta"], expected, "case {case}: body {body}");
    }
}

/// Asserts an error envelope with exact `details` (plus code, title, meta, content type).
async fn expect_error_details(
    resp: reqwest::Response,
    status: StatusCode,
    code: i64,
    details: &str,
    case: &str,
) {
    let (got, body) = json_body(resp, case).await;
    assert_eq!(got, status, "case {case}: body {body}");
    assert_eq!(body["errors"][0]["code"], code, "case {case}: body {body}");
    assert_eq!(
        body["errors"][0]["title"],
        title_of(code),
        "case {case}: body {body}"
    );
    assert_eq!(
        body["errors"][0]["details"], details,
        "case {case}: body {body}"
    );
    assert_eq!(body["meta"], meta(), "case {case}: body {body}");
}
