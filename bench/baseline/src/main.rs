//! Bare-axum baseline for `bench/run.sh`.
//!
//! `bench-baseline [--listen ADDR]` serves, on ADDR (default 127.0.0.1:0):
//! - `GET /__sandbox/health` → `{"status":"ok"}`
//! - `DELETE /v1/settings/account/two-step` with `Authorization: Bearer $BASELINE_TOKEN`
//!   (default `bench-token`) → `{"meta":{"version":"v2.45.1","api_status":"stable"}}`, else 401
//! - `POST /v1/settings/account/two-step` `{"pin":"123456"}`, same token: hashes the PIN
//!   with argon2id (19456 KiB, t=2, p=1) in `spawn_blocking`, unbounded — the naive way.
//! - `GET /{version}/{id}` (the Cloud number read) with `Authorization: Bearer
//!   $BASELINE_CLOUD_TOKEN` (default `EAAbenchtoken0123456789abcdefghijklmnop`) → the
//!   default number's fields as a static body of the same shape and size, else 401.
//!
//! The cheap routes answer with the same headers wa-twostep sends (`X-Request-ID`, and on
//! the Cloud read the Graph headers), with fixed values of the same length: the same
//! bytes on the wire, made with none of the work.
//!
//! and prints `listening on http://HOST:PORT` on stdout when ready. No logs, no state.
//!
//! `bench-baseline hash-once [N [MEMORY_KIB ITERATIONS]]` hashes a PIN N times (default
//! 20) with the same default parameters (or the given cost, one lane) and prints, as JSON, the median, min and max wall-clock milliseconds
//! of one hash and the median CPU milliseconds of one hash (this thread's run time from
//! `/proc/thread-self/schedstat`, immune to time stolen by other processes; null if unreadable),
//! and the mean wall and CPU microseconds over the whole loop.

use std::io::Write;
use std::time::Instant;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::serve::ListenerExt;
use axum::{Json, Router};

const META: &str = r#"{"meta":{"version":"v2.45.1","api_status":"stable"}}"#;
/// What wa-twostep answers to `GET /v22.0/106540352242922` by default (same bytes).
const NUMBER: &str = r#"{"code_verification_status":"VERIFIED","display_phone_number":"+1 5550100","id":"106540352242922","quality_rating":"GREEN","verified_name":"Sandbox Business"}"#;

/// The default argon2 cost, memory in KiB and iterations (what the server answers with).
const DEFAULT_COST: (u32, u32) = (19456, 2);

fn argon2((memory_kib, iterations): (u32, u32)) -> Argon2<'static> {
    let params = Params::new(memory_kib, iterations, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash(pin: &str, cost: (u32, u32)) -> String {
    // A fixed-length random salt without extra dependencies: the salt's value does not
    // change the work, only its length does (16 bytes, as SaltString::generate).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let salt = SaltString::encode_b64(&nanos.to_le_bytes()).expect("16-byte salt");
    argon2(cost)
        .hash_password(pin.as_bytes(), &salt)
        .expect("argon2 hash")
        .to_string()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == token)
}

/// Leaks an environment variable (or its default) for the life of the process.
fn env_static(name: &str, default: &str) -> &'static str {
    Box::leak(
        std::env::var(name)
            .unwrap_or_else(|_| default.into())
            .into_boxed_str(),
    )
}

/// A fixed request id of the length wa-twostep's are (32 hex digits).
const REQUEST_ID: (&str, &str) = ("x-request-id", "5f1e2d3c4b5a69788796a5b4c3d2e1f0");

fn meta() -> Response {
    (
        [
            (header::CONTENT_TYPE.as_str(), "application/json"),
            REQUEST_ID,
        ],
        META,
    )
        .into_response()
}

/// The Cloud number read's answer: the Graph headers wa-twostep sends, fixed values.
fn number() -> Response {
    (
        [
            (
                header::CONTENT_TYPE.as_str(),
                "application/json; charset=UTF-8",
            ),
            (header::CACHE_CONTROL.as_str(), "no-store"),
            ("x-fb-request-id", "AbCdEfGhIjKlMnOpQrStUvW"),
            ("x-fb-trace-id", "AbCdEfGhIjK"),
            ("facebook-api-version", "v22.0"),
            REQUEST_ID,
        ],
        NUMBER,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Pin {
    pin: String,
}

async fn serve(listen: &str) {
    let token = env_static("BASELINE_TOKEN", "bench-token");
    let cloud_token = env_static(
        "BASELINE_CLOUD_TOKEN",
        "EAAbenchtoken0123456789abcdefghijklmnop",
    );
    let app = Router::new()
        .route(
            "/__sandbox/health",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"status":"ok"}"#,
                )
            }),
        )
        .route(
            "/v1/settings/account/two-step",
            delete(move |headers: HeaderMap| async move {
                if authorized(&headers, token) {
                    meta()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            })
            .post(move |headers: HeaderMap, body: Json<Pin>| async move {
                if !authorized(&headers, token) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let pin = body.0.pin;
                match tokio::task::spawn_blocking(move || hash(&pin, DEFAULT_COST)).await {
                    Ok(_) => meta(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .route(
            "/{version}/{id}",
            get(move |headers: HeaderMap| async move {
                if authorized(&headers, cloud_token) {
                    number()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {listen}: {e}"));
    let addr = listener.local_addr().expect("local address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    axum::serve(listener, app).await.expect("serve");
}

/// This thread's time on a CPU so far, nanoseconds (first field of schedstat).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn hash_once(n: usize, cost: (u32, u32)) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let (cpu_start, start) = (thread_cpu_ns(), Instant::now());
    for _ in 0..n.max(1) {
        let c = thread_cpu_ns();
        let t = Instant::now();
        std::hint::black_box(hash("123456", cost));
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
        if let (Some(a), Some(b)) = (c, thread_cpu_ns()) {
            cpu.push((b - a) as f64 / 1e6);
        }
    }
    // Means over the whole loop too: a cheap hash is shorter than the scheduler's
    // accounting of run time is fine-grained, so only the total is meaningful.
    let runs = wall.len() as f64;
    let wall_us_mean = start.elapsed().as_secs_f64() * 1e6 / runs;
    let cpu_us_mean = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a) as f64 / 1e3 / runs),
        _ => "null".to_owned(),
    };
    let cpu_median = if cpu.len() == wall.len() {
        format!("{:.3}", median(&mut cpu))
    } else {
        "null".to_owned()
    };
    let m = median(&mut wall);
    println!(
        r#"{{"hash_ms_median":{m:.3},"hash_ms_min":{:.3},"hash_ms_max":{:.3},"hash_cpu_ms_median":{cpu_median},"hash_us_mean":{wall_us_mean:.2},"hash_cpu_us_mean":{cpu_us_mean},"n":{}}}"#,
        wall[0],
        wall[wall.len() - 1],
        wall.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("hash-once") => {
            let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
            let cost = |i: usize| args.get(i).and_then(|s| s.parse::<u32>().ok());
            hash_once(n, cost(2).zip(cost(3)).unwrap_or(DEFAULT_COST))
        }
        Some("--listen") => {
            let listen = args.get(1).cloned().unwrap_or_else(|| "127.0.0.1:0".into());
            tokio_main(&listen)
        }
        None => tokio_main("127.0.0.1:0"),
        Some(other) => {
            eprintln!("usage: bench-baseline [--listen ADDR] | hash-once [N [MEMORY_KIB ITERATIONS]] (got {other:?})");
            std::process::exit(2)
        }
    }
}

fn tokio_main(listen: &str) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(serve(listen));
}
