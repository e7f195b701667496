//! Answers that tell the truth under races: concurrent first logins of the seed
//! admin, a change that outlives the request timeout, and the per-user token cap.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use wa_twostep::store::WriteStep;

use crate::support::inproc::{build, settings_at, InProc};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_with_the_right_password_all_succeed_fresh_and_after_a_reset() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;
    let statuses = parallel_first_logins(&[&app], 16).await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "fresh state: {statuses:?}"
    );
    let reset = Reply::of(
        app.request(Method::POST, "/__sandbox/reset")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_status(&reset, 200);
    let statuses = parallel_first_logins(&[&app], 16).await;
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
        tokens.push(expect_token(app.login("admin", SEED_PASSWORD, None).await).await);
    }
    for (i, token) in tokens.iter().enumerate() {
        let status = app.health(token).await.status().as_u16();
        assert_eq!(status, if i < 2 { 401 } else { 200 }, "token {i}");
    }
    assert_eq!(app.sandbox_state().await["tokens"], 3);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("\nwa_twostep_tokens_evicted_total 2\n"),
        "{metrics}"
    );
    // The revocation is durable like any change.
    app = app.restart().await;
    assert_eq!(app.health(&tokens[0]).await.status(), 401);
    assert_eq!(app.health(&tokens[4]).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_the_request_timeout_tells_whether_the_change_happened() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_at(&dir.path().join("state.json"));
    settings.server.request_timeout_secs = 1;
    settings.auth.force_password_change = false;
    let app = build(settings).await;
    // A slow disk: every log append takes 300 ms in the writer.
    app.inject_write_failures(Arc::new(|step| {
        if step == WriteStep::AppendLog {
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(())
    }));
    let server = InProc::serve(app);
    let token = expect_token(server.login("admin", SEED_PASSWORD, None).await).await;
    let mut seen = std::collections::BTreeSet::new();
    // Delays before the handler runs: well inside the 1 s timeout, queued just
    // before it (the writer finishes after it), and past it (never queued).
    for delay_ms in [0u64, 500, 750, 850, 950, 1200, 1500] {
        expect_status(server.set_pin(&token, json!({"pin": "123456"})).await, 200).await;
        assert_eq!(server.sandbox_state().await["two_step"]["enabled"], true);
        let fault = server
            .request(Method::POST, "/__sandbox/faults")
            .json(&json!({"method": "DELETE", "path": TWO_STEP, "delay_ms": delay_ms, "times": 1}))
            .send()
            .await
            .unwrap();
        assert!(fault.status().is_success(), "{}", fault.status());
        let answer = server.disable_two_step(&token).await.status().as_u16();
        let enabled = server.sandbox_state().await["two_step"]["enabled"] == true;
        match answer {
            200 => assert!(!enabled, "delay {delay_ms} ms: 200 but two-step still on"),
            408 => assert!(
                enabled,
                "delay {delay_ms} ms: 408 but the change was applied"
            ),
            other => panic!("delay {delay_ms} ms: unexpected {other}"),
        }
        seen.insert(answer);
    }
    // Both outcomes were exercised, so the checks above had something to check.
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![200, 408]);
    server.stop().await;
}
