//! Overload: PIN changes beyond the argon2 queue are shed with 503 / 1016 while
//! `DELETE` and the probe keep answering, and the default argon2 parameters.
//! Slow clients are in `slow_clients`, body limits in `onprem::wire::body_limits`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Notify;

use crate::support::*;

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
                (status, Reply::of(resp).await)
            })
        })
        .collect();
    let delete = app.disable_two_step(&token).await;
    let health = app.get("/__sandbox/health").await;
    let mut results = Vec::new();
    for post in posts {
        results.push(post.await.expect("join"));
    }

    // Assert
    expect_status(delete, 200).await;
    expect_status(health, 200).await;
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
    for (_, r) in overloaded {
        assert_error(r, 503, 1016, Some(ARGON2_BUSY));
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
    expect_status(app.set_pin(&token, json!({"pin": "135790"})).await, 200).await;

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

/// One `POST` in the flood: its id, and whether it was shed.
type FloodLog = Arc<Mutex<FloodState>>;

#[derive(Default)]
struct FloodState {
    /// Ids of `POST`s sent and not yet answered.
    pending: HashSet<u64>,
    /// Next id.
    next: u64,
    /// Answers: status and the reply.
    answers: Vec<(StatusCode, Reply)>,
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
        let body = Reply::of(resp).await;
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
        let health = app.get("/__sandbox/health").await.status();
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
    for (_, r) in shed {
        assert_error(r, 503, 1016, Some(ARGON2_BUSY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_pin_changes_beyond_the_argon2_queue_get_503_133004_marked_transient() {
    // Arrange: one expensive hash at a time, nobody may wait
    let app = cloud_spawn()
        .env("WA_TWOSTEP_ARGON2__MEMORY_KIB", "65536")
        .env("WA_TWOSTEP_ARGON2__ITERATIONS", "4")
        .env("WA_TWOSTEP_ARGON2__MAX_CONCURRENT", "1")
        .env("WA_TWOSTEP_ARGON2__MAX_QUEUE", "0")
        .start()
        .await;

    // Act
    let posts: Vec<_> = (0..8u32)
        .map(|i| {
            let req = app
                .graph(Method::POST, PHONE_ID, Some(CLOUD_TOKEN))
                .json(&json!({"pin": format!("{:06}", 300_000 + i)}));
            tokio::spawn(async move { Reply::of(req.send().await.expect("post pin")).await })
        })
        .collect();
    let mut results = Vec::new();
    for post in posts {
        results.push(post.await.expect("join"));
    }

    // Assert
    let ok = results.iter().filter(|r| r.status == 200).count();
    let overloaded: Vec<_> = results.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok + overloaded.len(), 8, "unexpected statuses: {results:?}");
    assert!(ok >= 1 && !overloaded.is_empty(), "{results:?}");
    let want = Want::new(503, 133004, "(#133004) Server Temporarily Unavailable")
        .details("Server is temporarily unavailable.");
    for r in overloaded {
        let body = assert_graph_error(r, &want);
        assert_eq!(body["error"]["is_transient"], true, "{body}");
    }
}
