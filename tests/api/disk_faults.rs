//! Disk faults through HTTP (SPEC §8): the state write failing at any step answers
//! 500 / 1014, leaves the served state as it was, and a restart shows the last
//! acknowledged state. Runs the server in-process so the write path can be broken
//! at an exact step.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wa_twostep::config::Settings;
use wa_twostep::startup::App;
use wa_twostep::store::{OpenError, WriteStep};

use super::helpers::*;

/// An in-process server and the means to stop it.
struct Running {
    base: String,
    client: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn settings(state: &Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".parse().unwrap();
    s.state.path = state.to_owned();
    s.argon2.memory_kib = 64;
    s.argon2.iterations = 1;
    s
}

/// Builds the app, retrying while the previous instance is still letting go of the lock.
async fn build(state: &Path) -> App {
    for _ in 0..200 {
        match App::build(settings(state)).await {
            Ok(app) => return app,
            Err(wa_twostep::startup::StartupError::State(OpenError::Locked { .. })) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("start: {e}"),
        }
    }
    panic!("the previous server never released the state lock");
}

fn serve(app: App) -> Running {
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    Running {
        base,
        client,
        stop,
        task,
    }
}

impl Running {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    async fn first_login(&self) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/users/login", self.base))
            .header("Authorization", basic("admin", SEED_PASSWORD))
            .json(&json!({"new_password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login")
    }

    async fn state(&self) -> Value {
        expect_status(
            self.send(Method::GET, "/__sandbox/state", None, None).await,
            StatusCode::OK,
        )
        .await
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("clean stop");
    }
}

fn fail_once(step: WriteStep) -> wa_twostep::store::FailHook {
    let fired = AtomicBool::new(false);
    Arc::new(move |s| {
        if s == step && !fired.swap(true, Ordering::SeqCst) {
            Err(std::io::Error::other("injected disk fault"))
        } else {
            Ok(())
        }
    })
}

#[tokio::test]
async fn a_failed_snapshot_write_at_any_step_answers_500_and_changes_nothing() {
    for step in [
        WriteStep::CreateTemp,
        WriteStep::WriteTemp,
        WriteStep::SyncTemp,
        WriteStep::Rename,
        WriteStep::SyncDir,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let app = build(&path).await;
        // The first change (the first login) writes the first snapshot.
        app.inject_write_failures(fail_once(step));
        let server = serve(app);
        let before = server.state().await;

        let resp = server.first_login().await;

        let body = expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, 1014).await;
        assert!(
            body["errors"][0].get("details").is_none(),
            "{step:?}: the cause leaked: {body}"
        );
        assert_eq!(
            server.state().await,
            before,
            "{step:?}: the served state changed"
        );
        server.stop().await;
        let server = serve(build(&path).await);
        assert_eq!(
            server.state().await,
            before,
            "{step:?}: a restart shows a change that failed"
        );
        expect_status(server.first_login().await, StatusCode::OK).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_failed_log_append_at_any_step_answers_500_and_changes_nothing() {
    for step in [WriteStep::AppendLog, WriteStep::SyncLog] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let app = build(&path).await;
        let server = serve(app);
        let login = expect_status(server.first_login().await, StatusCode::OK).await;
        let token = login["users"][0]["token"].as_str().unwrap().to_owned();
        let pin = Some(json!({"pin": "123456"}));
        expect_status(
            server.send(Method::POST, TWO_STEP, Some(&token), pin).await,
            StatusCode::OK,
        )
        .await;
        server.stop().await;
        let app = build(&path).await;
        app.inject_write_failures(fail_once(step));
        let server = serve(app);
        let before = server.state().await;

        let resp = server
            .send(Method::DELETE, TWO_STEP, Some(&token), None)
            .await;

        expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, 1014).await;
        assert_eq!(
            server.state().await,
            before,
            "{step:?}: the served state changed"
        );
        assert_eq!(before["two_step"]["enabled"], true);
        server.stop().await;
        let server = serve(build(&path).await);
        assert_eq!(
            server.state().await,
            before,
            "{step:?}: a restart shows a change that failed"
        );
        let resp = server
            .send(Method::DELETE, TWO_STEP, Some(&token), None)
            .await;
        expect_status(resp, StatusCode::OK).await;
        server.stop().await;
    }
}
