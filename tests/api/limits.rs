//! Limits and overload (SPEC §9, §1 body limit, the timeout decisions): the argon2 queue,
//! argon2 parameters, slow clients and oversized bodies, over real TCP.
//! Black-box only; raw sockets are used where reqwest cannot misbehave on purpose.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::helpers::*;

/// How long a test waits for the server to react to a misbehaving client.
const REACTION: Duration = Duration::from_secs(5);

/// A response read off a raw socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    head: String,
    body: String,
}

impl RawResponse {
    /// The body as JSON (panics when it is not).
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }
}

/// Parses `buf` as one HTTP/1.1 response if it is complete (head plus `Content-Length`
/// body; without `Content-Length` only when `eof`).
fn parse_response(buf: &[u8], eof: bool) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let body = &buf[end + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().expect("content-length"))
    });
    let complete = match length {
        Some(n) => body.len() >= n,
        None => eof,
    };
    complete.then(|| RawResponse {
        status,
        head: head.clone(),
        body: String::from_utf8_lossy(&body[..length.unwrap_or(body.len())]).into_owned(),
    })
}

/// Reads one response from `stream`; `None` when the server closed without a byte.
/// Panics if nothing conclusive happens within [`REACTION`].
async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(resp) = parse_response(&buf, false) {
                return Some(resp);
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        if buf.is_empty() {
            None
        } else {
            let partial = String::from_utf8_lossy(&buf).into_owned();
            Some(
                parse_response(&buf, true)
                    .unwrap_or_else(|| panic!("truncated response: {partial}")),
            )
        }
    };
    tokio::time::timeout(REACTION, read)
        .await
        .expect("the server neither answered nor closed within 5 s")
}

/// Asserts a raw response is the error envelope with `status`, `code` and `details`.
#[track_caller]
fn assert_raw_error(resp: &RawResponse, status: u16, code: i64, details: &str) {
    assert_eq!(resp.status, status, "response: {resp:?}");
    let body = resp.json();
    assert_eq!(body["errors"][0]["code"], code, "response: {resp:?}");
    assert_eq!(
        body["errors"][0]["title"],
        title_of(code),
        "response: {resp:?}"
    );
    assert_eq!(body["errors"][0]["details"], details, "response: {resp:?}");
    assert_eq!(body["meta"]["api_status"], "stable", "response: {resp:?}");
}

/// Head of a `POST` to the two-step endpoint with `extra` header lines (each ending in CRLF).
fn two_step_post_head(addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "POST {TWO_STEP} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}\r\n"
    )
}

/// Waits until the peer closes `stream` (read returns 0 or an error), bounded by [`REACTION`].
/// Bytes the server sends before closing are ignored.
async fn wait_for_close(stream: &mut TcpStream) {
    let closed = async {
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(REACTION, closed)
        .await
        .expect("the server did not close the connection within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pin_changes_beyond_the_argon2_queue_get_503_1016_while_delete_and_health_stay_up() {
    // Arrange: one expensive hash at a time, nobody may wait
    let app = TestApp::with()
        .env("WA_TWOSTEP_ARGON2__MEMORY_KIB", "65536")
        .env("WA_TWOSTEP_ARGON2__ITERATIONS", "4")
        .env("WA_TWOSTEP_ARGON2__MAX_CONCURRENT", "1")
        .env("WA_TWOSTEP_ARGON2__MAX_QUEUE", "0")
        .start()
        .await;
    let token = app.admin_token().await; // login hashes too: do it before the burst

    // Act
    let posts: Vec<_> = (0..8u32)
        .map(|i| {
            let req = app
                .request(Method::POST, TWO_STEP)
                .bearer_auth(&token)
                .json(&json!({"pin": format!("{:06}", 200_000 + i)}));
            tokio::spawn(async move {
                let resp = req.send().await.expect("post pin");
                let status = resp.status();
                (status, resp.text().await.unwrap_or_default())
            })
        })
        .collect();
    let delete = app.disable_two_step(&token).await;
    let health = app
        .request(Method::GET, "/__sandbox/health")
        .send()
        .await
        .expect("health");
    let mut results = Vec::new();
    for post in posts {
        results.push(post.await.expect("join"));
    }

    // Assert
    expect_status(delete, StatusCode::OK).await;
    expect_status(health, StatusCode::OK).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let overloaded: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(ok + overloaded.len(), 8, "unexpected statuses: {results:?}");
    assert!(ok >= 1, "no PIN change got through: {results:?}");
    assert!(
        !overloaded.is_empty(),
        "no request was refused as overloaded: {results:?}"
    );
    for (_, body) in overloaded {
        let body: Value = serde_json::from_str(body).expect("503 body is JSON");
        assert_eq!(body["errors"][0]["code"], 1016, "body: {body}");
        assert_eq!(
            body["errors"][0]["title"], "System overloaded",
            "body: {body}"
        );
        assert_eq!(body["meta"]["api_status"], "stable", "body: {body}");
    }
}

/// The argon2id hashes in the state file and its change log (`state.json.log`).
fn state_hashes(app: &TestApp) -> Vec<String> {
    let mut text = std::fs::read_to_string(&app.state_path).expect("read state file");
    text.push_str(
        &std::fs::read_to_string(app.dir.path().join("state.json.log")).unwrap_or_default(),
    );
    let mut out: Vec<String> = text
        .split('"')
        .filter(|s| s.starts_with("$argon2id$"))
        .map(str::to_owned)
        .collect();
    out.dedup();
    out
}

#[tokio::test]
async fn the_default_argon2_parameters_hash_the_pin_with_m19456_t2_p1() {
    // Arrange: undo the harness's cheap setting
    let app = TestApp::with()
        .env("WA_TWOSTEP_ARGON2__MEMORY_KIB", "19456")
        .env("WA_TWOSTEP_ARGON2__ITERATIONS", "2")
        .start()
        .await;
    let token = app.admin_token().await;
    let before = state_hashes(&app);

    // Act
    expect_status(
        app.set_pin(&token, json!({"pin": "135790"})).await,
        StatusCode::OK,
    )
    .await;

    // Assert
    let after = state_hashes(&app);
    let new: Vec<_> = after.iter().filter(|h| !before.contains(h)).collect();
    assert_eq!(
        new.len(),
        1,
        "expected exactly one new hash (the PIN's): {after:?}"
    );
    assert!(
        new[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "PIN hash parameters: {}",
        new[0]
    );
    for hash in &after {
        assert!(
            hash.contains("$m=19456,t=2,p=1$"),
            "hash parameters: {hash}"
        );
    }
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
    wait_for_close(&mut stream).await;
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
    let closed = async {
        let mut chunk = [0u8; 1024];
        loop {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    let result = tokio::time::timeout(REACTION, closed).await;
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
        &format!("Authorization: Bearer {token}\r\nContent-Length: 100\r\n"),
    );

    // Act: 10 of the 100 announced bytes, then silence
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
        .write_all(br#"{"pin":"12"#)
        .await
        .expect("write partial body");
    let resp = read_response(&mut stream).await;

    // Assert
    if let Some(resp) = resp {
        assert_raw_error(&resp, 408, 1014, "Request timed out");
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
        &format!("Authorization: Bearer {token}\r\nContent-Length: 1000000\r\n"),
    );

    // Act: announce a megabyte, send only a few bytes (the default request timeout is 30 s)
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
        .write_all(br#"{"pin":"#)
        .await
        .expect("write body start");
    let resp = read_response(&mut stream)
        .await
        .expect("a response, not a bare close");

    // Assert
    assert_raw_error(&resp, 413, 1009, "Request body exceeds 65536 bytes");
    assert!(
        resp.head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "head: {}",
        resp.head
    );
}

#[tokio::test]
async fn an_unauthenticated_oversized_request_is_rejected_with_401_before_its_body() {
    // Arrange
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = two_step_post_head(app.addr, "Content-Length: 1000000\r\n");

    // Act
    stream.write_all(head.as_bytes()).await.expect("write head");
    let resp = read_response(&mut stream)
        .await
        .expect("a response, not a bare close");

    // Assert
    assert_raw_error(
        &resp,
        401,
        1005,
        "Missing or invalid authentication credentials",
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413_1009() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "1024")
        .start()
        .await;
    let token = app.admin_token().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = two_step_post_head(
        app.addr,
        &format!("Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n"),
    );
    let payload = format!("{{\"pin\": \"123456\"{}}}", " ".repeat(2000));
    let chunked = format!("{:x}\r\n{payload}\r\n0\r\n\r\n", payload.len());

    // Act
    stream.write_all(head.as_bytes()).await.expect("write head");
    let _ = stream.write_all(chunked.as_bytes()).await; // the server may stop reading early
    let resp = read_response(&mut stream)
        .await
        .expect("a response, not a bare close");

    // Assert
    assert_raw_error(&resp, 413, 1009, "Request body exceeds 1024 bytes");
    let state = app.sandbox_state().await;
    assert_eq!(
        state["two_step"]["enabled"], false,
        "an oversized body changed the state"
    );
}

#[tokio::test]
async fn a_configured_body_limit_is_enforced_and_named_in_the_details() {
    // Arrange
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "1024")
        .start()
        .await;
    let token = app.admin_token().await;
    let body = format!("{{\"pin\": \"123456\"{}}}", " ".repeat(2000));

    // Act
    let resp = app
        .request(Method::POST, TWO_STEP)
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");

    // Assert
    let body = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, 1009).await;
    assert_eq!(
        body["errors"][0]["details"],
        "Request body exceeds 1024 bytes"
    );
}

/// One `POST` in the flood: its id, and whether it was shed.
type FloodLog = Arc<Mutex<FloodState>>;

#[derive(Default)]
struct FloodState {
    /// Ids of `POST`s sent and not yet answered.
    pending: HashSet<u64>,
    /// Next id.
    next: u64,
    /// Answers: status and body.
    answers: Vec<(StatusCode, String)>,
}

/// Sends PIN changes until `stop`, pausing briefly after each (instant) 503.
/// The lock is a `std` one and never held across an `.await`.
async fn flood_client(
    app_req: impl Fn() -> reqwest::RequestBuilder,
    log: FloodLog,
    stop: Arc<AtomicBool>,
    first_shed: Arc<Notify>,
) {
    for _ in 0..2_000 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let id = {
            let mut s = log.lock().unwrap();
            s.next += 1;
            let id = s.next;
            s.pending.insert(id);
            id
        };
        let resp = app_req().send().await.expect("flood post");
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        {
            let mut s = log.lock().unwrap();
            s.pending.remove(&id);
            s.answers.push((status, body));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            first_shed.notify_one();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_and_health_answer_during_an_expensive_post_flood_that_is_shed_with_503_1016() {
    // Arrange: expensive hashes, one at a time, two may wait
    let app = TestApp::with()
        .env("WA_TWOSTEP_ARGON2__MEMORY_KIB", "65536")
        .env("WA_TWOSTEP_ARGON2__ITERATIONS", "4")
        .env("WA_TWOSTEP_ARGON2__MAX_CONCURRENT", "1")
        .env("WA_TWOSTEP_ARGON2__MAX_QUEUE", "2")
        .start()
        .await;
    let token = app.admin_token().await;
    let log: FloodLog = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let first_shed = Arc::new(Notify::new());
    let clients: Vec<_> = (0..6u32)
        .map(|i| {
            let (client, url, token) = (app.client.clone(), app.url(TWO_STEP), token.clone());
            let req = move || {
                client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"pin": format!("{:06}", 300_000 + i)}))
            };
            tokio::spawn(flood_client(
                req,
                log.clone(),
                stop.clone(),
                first_shed.clone(),
            ))
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(30), first_shed.notified())
        .await
        .expect("the flood was never shed with 503 within 30 s");

    // Act: while the pool is saturated, DELETE and the readiness probe, five times
    let mut probes = Vec::new();
    for round in 0..5 {
        let deadline = Instant::now() + Duration::from_secs(10);
        // Spread the rounds over the flood: round r waits for r accepted PIN
        // changes, and for a POST in flight.
        let before = loop {
            {
                let s = log.lock().unwrap();
                let accepted = s.answers.iter().filter(|(st, _)| *st == StatusCode::OK);
                if accepted.count() >= round && !s.pending.is_empty() {
                    break s.pending.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: the flood stalled for 10 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let started = Instant::now();
        let delete = app.disable_two_step(&token).await.status();
        let health = app
            .request(Method::GET, "/__sandbox/health")
            .send()
            .await
            .expect("health")
            .status();
        let elapsed = started.elapsed();
        let after = log.lock().unwrap().pending.clone();
        let overtaken = before.intersection(&after).count();
        probes.push((round, delete, health, overtaken, elapsed));
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("flood client");
    }

    // Assert
    for (round, delete, health, overtaken, elapsed) in &probes {
        assert_eq!(*delete, StatusCode::OK, "round {round}: {probes:?}");
        assert_eq!(*health, StatusCode::OK, "round {round}: {probes:?}");
        assert!(
            *overtaken > 0,
            "round {round}: DELETE and health did not answer while a POST was waiting for argon2 \
             (pending POSTs overtaken, elapsed): {probes:?}"
        );
        assert!(
            *elapsed < Duration::from_secs(5),
            "round {round}: {probes:?}"
        );
    }
    let state = log.lock().unwrap();
    let ok = state
        .answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    let shed: Vec<_> = state
        .answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(
        ok + shed.len(),
        state.answers.len(),
        "unexpected statuses: {:?}",
        state.answers
    );
    assert!(ok >= 1, "no PIN change got through the flood");
    eprintln!(
        "flood: {} POSTs, {ok} accepted, {} shed; probes (round, DELETE, health, POSTs overtaken, time): {probes:?}",
        state.answers.len(),
        shed.len()
    );
    for (_, body) in shed {
        let body: Value = serde_json::from_str(body).expect("503 body is JSON");
        assert_eq!(body["errors"][0]["code"], 1016, "body: {body}");
        assert_eq!(
            body["errors"][0]["title"], "System overloaded",
            "body: {body}"
        );
        assert_eq!(body["meta"]["api_status"], "stable", "body: {body}");
    }
}
