//! The in-process harness, for the tests that need what the binary cannot give:
//! store hooks (`App::inject_write_failures`) or the router itself (`App::router`,
//! driven with `oneshot`, every layer included, so generated requests reach it
//! byte for byte). Built on `wa_twostep::startup::App` with the one cheap argon2
//! setting from [`consts`](super::consts); served over real TCP on port 0.
//! (`wa_twostep::Sandbox` itself is under test in `control::embed`.)

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::oneshot;
use tower::ServiceExt;
use wa_twostep::config::Settings;
use wa_twostep::startup::{App, StartupError};
use wa_twostep::store::OpenError;

use super::assert::{assert_status, Reply};
use super::client::{basic, client_builder, token_in, Server};
use super::consts::{
    ADMIN_PASSWORD, CHEAP_ARGON2_ITERATIONS, CHEAP_ARGON2_MEMORY_KIB, SEED_PASSWORD,
};

/// Settings for an in-process server: cheap argon2, 127.0.0.1 port 0, memory only,
/// the static Cloud token [`CLOUD_TOKEN`](super::graph::CLOUD_TOKEN).
pub fn settings() -> Settings {
    let mut s = Settings::default();
    s.cloud.access_token = wa_twostep::secret::Secret::new(super::graph::CLOUD_TOKEN);
    s.argon2.memory_kib = CHEAP_ARGON2_MEMORY_KIB;
    s.argon2.iterations = CHEAP_ARGON2_ITERATIONS;
    s.state.ephemeral = true;
    s.server.listen = "127.0.0.1:0".parse().expect("addr");
    s
}

/// [`settings`], but keeping the state in the file `state`.
pub fn settings_at(state: &Path) -> Settings {
    let mut s = settings();
    s.state.ephemeral = false;
    s.state.path = state.to_owned();
    s
}

/// Builds the app, retrying (bounded, 2 s) while a previous instance on the same
/// state file is still letting go of its lock.
pub async fn build(settings: Settings) -> App {
    for _ in 0..200 {
        match App::build(settings.clone()).await {
            Ok(app) => return app,
            Err(StartupError::State(OpenError::Locked { .. })) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("start: {e}"),
        }
    }
    panic!("the previous server never released the state lock");
}

/// An in-process server on real TCP and the means to stop it.
pub struct InProc {
    base: String,
    client: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProc {
    /// Builds an app from `settings` (see [`build`]) and serves it.
    pub async fn start(settings: Settings) -> InProc {
        InProc::serve(build(settings).await)
    }

    /// Serves `app` (built and possibly given store hooks by the test).
    pub fn serve(app: App) -> InProc {
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        // No idle connections, so a stop never waits on one.
        let client = client_builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        InProc {
            base,
            client,
            stop,
            task,
        }
    }

    /// Stops the server and waits for a clean exit.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("clean stop");
    }
}

impl Server for InProc {
    fn base(&self) -> &str {
        &self.base
    }
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Sends `req` through `router` and reads the answer.
pub async fn oneshot(router: &wa_twostep::api::App, req: Request<Body>) -> Reply {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: body.collect().await.expect("body").to_bytes().to_vec(),
    }
}

/// A fresh memory-only app's router and an admin token from its first login.
pub async fn router_with_admin() -> (wa_twostep::api::App, String) {
    let router = build(settings()).await.router();
    let login = Request::post("/v1/users/login")
        .header("authorization", basic("admin", SEED_PASSWORD))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"new_password": ADMIN_PASSWORD}).to_string(),
        ))
        .expect("login request");
    let body = assert_status(&oneshot(&router, login).await, 200);
    (router, token_in(&body))
}
