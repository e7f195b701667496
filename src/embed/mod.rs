//! The server inside a Rust test process: [`Sandbox::start`] runs it on
//! `127.0.0.1`, port 0, in memory, with cheap argon2 and no forced password
//! change, logs the admin in, gives it a Cloud access token, and stops it when the
//! handle is dropped.
//!
//! It serves the same router over real TCP as the binary; only the wiring
//! differs (no signal handling, no ready line, no logging set-up: the host owns
//! those). Its own requests (the admin login, [`Sandbox::state`],
//! [`Sandbox::reset`]) go over a small HTTP/1.1 client built on hyper, so the
//! crate needs no HTTP client dependency.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod state;

pub use state::{
    AccountStatus, BudgetStatus, NumberStatus, SandboxState, TwoStepStatus, UserStatus,
};

use crate::config::{ConfigError, Settings};
use crate::domain::seed::{Seed, SeedError};
use crate::startup::{App, StartupError};

/// A running in-process server. Dropping it stops the server (in-flight requests
/// get `server.shutdown_grace_secs` to finish); [`Sandbox::shutdown`] also waits.
///
/// ```
/// use wa_twostep::Sandbox;
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let sandbox = Sandbox::start().await?;
///
///     // Talk to it as to the real API: enable two-step verification with a PIN.
///     let resp = reqwest::Client::new()
///         .post(format!("{}/v1/settings/account/two-step", sandbox.url()))
///         .bearer_auth(sandbox.admin_token())
///         .json(&serde_json::json!({"pin": "123456"}))
///         .send()
///         .await?;
///     assert_eq!(resp.status(), 200);
///
///     // The same number through the Cloud API: its PIN is the one just set.
///     let resp = reqwest::Client::new()
///         .get(format!("{}/v22.0/{}?fields=is_pin_enabled", sandbox.url(), sandbox.phone_number_id()))
///         .bearer_auth(sandbox.cloud_token())
///         .send()
///         .await?;
///     assert_eq!(resp.json::<serde_json::Value>().await?["is_pin_enabled"], true);
///
///     // Inspect and reset it through the control plane.
///     assert!(sandbox.state().await?.two_step.enabled);
///     assert!(!sandbox.reset().await?.two_step.enabled);
///     Ok(())
/// }
/// ```
pub struct Sandbox {
    /// Where the server listens.
    addr: SocketAddr,
    /// `http://HOST:PORT`
    url: String,
    /// A token of `admin`, unless the admin must change the password first.
    admin_token: Option<String>,
    /// `control.token`, sent on control-plane requests when set.
    control_token: Option<String>,
    /// `cloud.access_token`: the one the settings name, or one made up at start.
    cloud_token: String,
    /// `cloud.phone_number_id`.
    phone_number_id: String,
    /// `cloud.waba_id`.
    waba_id: String,
    /// Completing (or dropping) it stops the server.
    stop: Option<oneshot::Sender<()>>,
    /// The serving task.
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Settings for a [`Sandbox`] before it starts. Start from [`Sandbox::builder`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    /// The settings the server will run with.
    settings: Settings,
}

/// Why a [`Sandbox`] could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The settings are invalid (the binary would exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The seed file is unreadable or invalid (the binary would exit 2).
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// The server could not start (state file, address, hashing).
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The connection to the server failed.
    #[error("request to the embedded server failed: {0}")]
    Http(String),
    /// The server answered with an unexpected status.
    #[error("{method} {path} answered {status}: {body}")]
    Status {
        /// Method of the request.
        method: Method,
        /// Path of the request.
        path: String,
        /// The status received.
        status: StatusCode,
        /// The body received (never a secret: only successful logins carry one).
        body: String,
    },
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        let mut settings = Settings::default();
        settings.server.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        settings.state.ephemeral = true;
        // Tests want speed, not resistance to offline cracking.
        settings.argon2.memory_kib = 64;
        settings.argon2.iterations = 1;
        settings.auth.force_password_change = false;
        SandboxBuilder { settings }
    }
}

impl SandboxBuilder {
    /// Starts from the seed file `path` (TOML, or JSON for `*.json`), as `--seed`.
    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.state.seed = path.into();
        self
    }

    /// Changes any setting, e.g. `|s| s.account.registered = false`.
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    /// The settings the server would start with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Starts the server on the current tokio runtime and logs the admin in
    /// (unless the admin must change the password first). Without a
    /// `cloud.access_token` in the settings, it makes one up: a static token, so
    /// it outlives every reset.
    pub async fn start(self) -> Result<Sandbox, EmbedError> {
        let mut settings = self.settings;
        if settings.cloud.access_token.is_empty() {
            settings.cloud.access_token = crate::domain::cloud_tokens::new_token();
        }
        settings.validate()?;
        let cloud_token = settings.cloud.access_token.expose().to_owned();
        let phone_number_id = settings.cloud.phone_number_id.clone();
        let waba_id = settings.cloud.waba_id.clone();
        let seed = Seed::load(&settings)?;
        let control_token =
            Some(settings.control.token.expose().to_owned()).filter(|t| !t.is_empty());
        let app = App::build(settings).await?;
        let mut addr = app.local_addr();
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            // A send or a dropped sender both mean "stop".
            let _ = stopped.await;
        }));
        let mut sandbox = Sandbox {
            addr,
            url: format!("http://{addr}"),
            admin_token: None,
            control_token,
            cloud_token,
            phone_number_id,
            waba_id,
            stop: Some(stop),
            server: Some(server),
        };
        if !seed.admin_must_change_password() {
            // Logging in without `new_password` would be refused with 1024, and logging
            // in with one would spoil a test of the first-login flow: leave it to the test.
            sandbox.admin_token = Some(
                sandbox
                    .login("admin", seed.admin_password().expose())
                    .await?,
            );
        }
        Ok(sandbox)
    }
}

impl Sandbox {
    /// Starts a server with the defaults: 127.0.0.1 port 0, memory only, argon2
    /// 64 KiB / t=1, admin password `secret` with no forced change.
    pub async fn start() -> Result<Sandbox, EmbedError> {
        SandboxBuilder::default().start().await
    }

    /// A builder to pass a seed file or change settings before starting.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A valid bearer token of `admin`, obtained by logging in at start.
    ///
    /// # Panics
    ///
    /// When the admin must change the password at first login
    /// (`auth.force_password_change`, or `must_change_password` in the seed file):
    /// then no login was made; see [`Sandbox::try_admin_token`].
    pub fn admin_token(&self) -> &str {
        self.try_admin_token()
            .expect("no admin token: the admin must change the password at first login")
    }

    /// The admin token, or `None` when the admin must change the password first.
    pub fn try_admin_token(&self) -> Option<&str> {
        self.admin_token.as_deref()
    }

    /// A Cloud access token with both scopes that never expires and outlives
    /// resets (`cloud.access_token`: the configured one, or one made up at start).
    pub fn cloud_token(&self) -> &str {
        &self.cloud_token
    }

    /// The first number's phone-number ID (`cloud.phone_number_id`): the number
    /// both flavors act on, as in `POST /v22.0/{id}/register`.
    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// The WhatsApp Business Account ID (`cloud.waba_id`).
    pub fn waba_id(&self) -> &str {
        &self.waba_id
    }

    /// `GET /__sandbox/state`.
    pub async fn state(&self) -> Result<SandboxState, EmbedError> {
        self.control(Method::GET, "/__sandbox/state").await
    }

    /// `POST /__sandbox/reset`: back to the seed; returns the new state. Tokens are
    /// gone afterwards, the one from [`Sandbox::admin_token`] included.
    pub async fn reset(&self) -> Result<SandboxState, EmbedError> {
        self.control(Method::POST, "/__sandbox/reset").await
    }

    /// Stops the server and waits until it has drained and ended.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    async fn control(&self, method: Method, path: &str) -> Result<SandboxState, EmbedError> {
        let auth = self.control_token.as_ref().map(|t| format!("Bearer {t}"));
        let body = self
            .send(method.clone(), path, auth, StatusCode::OK)
            .await?;
        serde_json::from_slice(&body).map_err(|e| EmbedError::Http(format!("{method} {path}: {e}")))
    }

    async fn login(&self, username: &str, password: &str) -> Result<String, EmbedError> {
        #[derive(Deserialize)]
        struct Login {
            users: Vec<Issued>,
        }
        #[derive(Deserialize)]
        struct Issued {
            token: String,
        }
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let path = "/v1/users/login";
        let auth = Some(format!("Basic {credentials}"));
        let body = self.send(Method::POST, path, auth, StatusCode::OK).await?;
        let login: Login = serde_json::from_slice(&body)
            .map_err(|e| EmbedError::Http(format!("POST {path}: {e}")))?;
        login
            .users
            .into_iter()
            .next()
            .map(|u| u.token)
            .ok_or_else(|| EmbedError::Http(format!("POST {path}: no token in the answer")))
    }

    /// One request on a fresh connection; returns the body if the status is `want`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: Option<String>,
        want: StatusCode,
    ) -> Result<Bytes, EmbedError> {
        let http = |e: &dyn std::fmt::Display| EmbedError::Http(format!("{method} {path}: {e}"));
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| http(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, self.addr.to_string());
        if let Some(value) = authorization {
            request = request.header(hyper::header::AUTHORIZATION, value);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| http(&e))?;
        let response = sender.send_request(request).await.map_err(|e| http(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| http(&e))?
            .to_bytes();
        if status != want {
            return Err(EmbedError::Status {
                method,
                path: path.to_owned(),
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(body)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokens are secrets: show only whether there is one.
        f.debug_struct("Sandbox")
            .field("url", &self.url)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("cloud_token", &"***")
            .finish_non_exhaustive()
    }
}
