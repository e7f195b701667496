//! Answers that tell the truth under races: concurrent first logins of the seed
//! admin, a change that outlives the request timeout, and the per-user token cap.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wa_twostep::config::Settings;
use wa_twostep::startup::App;
use wa_twostep::store::Step;

use super::helpers::*;

/// Fires `n` logins with the seed password at once and returns their statuses.
async fn parallel_first_logins(app: &TestApp, n: usize) -> Vec<u16> {
    let app = Arc::new((app.client.clone(), app.url("/v1/users/login")));
    let logins: Vec<_> = (0..n)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.0
                    .post(&app.1)
                    .header("Authorization", basic("admin", SEED_PASSWORD))
                    .send()
                    .await
                    .expect("login")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for l in logins {
        statuses.push(l.await.expect("join"));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_with_the_right_password_all_succeed_fresh_and_after_a_reset() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;
    let statuses = parallel_first_logins(&app, 16).await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "fresh state: {statuses:?}"
    );
    let reset = app
        .request(Method::POST, "/__sandbox/reset")
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let statuses = parallel_first_logins(&app, 16).await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "after a reset: {statuses:?}"
    );
}

#[tokio::test]
async fn a_login_past_the_token_cap_revokes_the_users_oldest_tokens() {
    let mut app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .env("WA_TWOSTEP_AUTH__MAX_TOKENS_PER_USER", "3")
        .start()
        .await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        let resp = app.login("admin", SEED_PASSWORD, None).await;
        let body = expect_status(resp, StatusCode::OK).await;
        tokens.push(body["users"][0]["token"].as_str().unwrap().to_owned());
    }
    let health = |app: &TestApp, token: &str| {
        app.request(Method::GET, "/v1/health")
            .bearer_auth(token)
            .send()
    };
    for (i, token) in tokens.iter().enumerate() {
        let status = health(&app, token).await.unwrap().status();
        let expected = if i < 2 { 401 } else { 200 };
        assert_eq!(status.as_u16(), expected, "token {i}");
    }
    assert_eq!(app.sandbox_state().await["tokens"], 3);
    let metrics = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nwa_twostep_tokens_evicted_total 2\n"),
        "{metrics}"
    );
    // The revocation is durable like any change.
    app = app.restart().await;
    assert_eq!(health(&app, &tokens[0]).await.unwrap().status(), 401);
    assert_eq!(health(&app, &tokens[4]).await.unwrap().status(), 200);
}

/// The in-process server with a slow disk: every log append takes `slow`.
async fn slow_disk_server(
    dir: &std::path::Path,
    slow: Duration,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".parse().unwrap();
    s.server.request_timeout_secs = 1;
    s.state.path = dir.join("state.json");
    s.auth.force_password_change = false;
    s.argon2.memory_kib = 64;
    s.argon2.iterations = 1;
    let app = App::build(s).await.expect("build");
    app.inject_disk_faults(Arc::new(move |step| {
        if step == Step::AppendLog {
            std::thread::sleep(slow);
        }
        Ok(())
    }));
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (base, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_the_request_timeout_tells_whether_the_change_happened() {
    let dir = tempfile::tempdir().unwrap();
    // A change takes 300 ms in the writer; the request timeout is 1 s.
    let (base, stop, task) = slow_disk_server(dir.path(), Duration::from_millis(300)).await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");
    let login: Value = client
        .post(url("/v1/users/login"))
        .header("Authorization", basic("admin", SEED_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["users"][0]["token"].as_str().unwrap().to_owned();
    let enabled = || async {
        let state: Value = client
            .get(url("/__sandbox/state"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state["two_step"]["enabled"].as_bool().unwrap()
    };
    let mut seen = std::collections::BTreeSet::new();
    // Delays before the handler runs: well inside the timeout, queued just before
    // it (the writer finishes after it), and past it (never queued).
    for delay_ms in [0u64, 500, 750, 850, 950, 1200, 1500] {
        let set = client
            .post(url(TWO_STEP))
            .bearer_auth(&token)
            .json(&json!({"pin": "123456"}))
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), StatusCode::OK);
        assert!(enabled().await);
        let fault = client
            .post(url("/__sandbox/faults"))
            .json(&json!({"method": "DELETE", "path": TWO_STEP, "delay_ms": delay_ms, "times": 1}))
            .send()
            .await
            .unwrap();
        assert!(fault.status().is_success(), "{}", fault.status());
        let answer = client
            .delete(url(TWO_STEP))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        let now_enabled = enabled().await;
        match answer.as_u16() {
            200 => assert!(
                !now_enabled,
                "delay {delay_ms} ms: 200 but two-step still on"
            ),
            408 => assert!(
                now_enabled,
                "delay {delay_ms} ms: 408 but the change was applied"
            ),
            other => panic!("delay {delay_ms} ms: unexpected {other}"),
        }
        seen.insert(answer.as_u16());
    }
    // Both outcomes were exercised, so the check above had something to check.
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![200, 408]);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
