//! The HTTP calls every harness shares: [`Server`] is anything with a base URL and
//! a reqwest client (the spawned binary, the in-process server, a detached handle
//! to either), and gives them the same login, token and two-step helpers.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use super::assert::{assert_status, expect_status, Reply};
use super::consts::{ADMIN_PASSWORD, SEED_PASSWORD, TWO_STEP};

/// A reqwest client builder with the suite's defaults: no redirects, a 30 s bound.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
}

/// A reqwest client with the suite's defaults.
pub fn http_client() -> reqwest::Client {
    client_builder().build().expect("client")
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The token of a successful login body.
pub fn token_in(body: &Value) -> String {
    body["users"][0]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {body}"))
        .to_owned()
}

/// A server the tests talk to over real TCP.
#[allow(async_fn_in_trait)]
pub trait Server {
    /// `http://HOST:PORT`
    fn base(&self) -> &str;
    /// The client to send requests with.
    fn client(&self) -> &reqwest::Client;

    /// Full URL of `path` on this server.
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    /// A request builder for `method path` (no auth).
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client().request(method, self.url(path))
    }

    /// `method path` with `token` and a raw JSON `body` on a connection of its own:
    /// the server may close one whose body it did not read, so it is not reused.
    fn raw_json_once(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: String,
    ) -> reqwest::RequestBuilder {
        self.request(method, path)
            .bearer_auth(token)
            .header("Connection", "close")
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// `GET path` without credentials.
    async fn get(&self, path: &str) -> reqwest::Response {
        self.request(Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET path` without credentials, asserting 200; returns the JSON body.
    async fn get_ok(&self, path: &str) -> Value {
        expect_status(self.get(path).await, 200).await
    }

    /// `method path` with an optional bearer token and an optional JSON body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.request(method, path);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    /// `POST /v1/users/login` with Basic credentials and an optional JSON body.
    async fn login(&self, user: &str, password: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self
            .request(Method::POST, "/v1/users/login")
            .header("Authorization", basic(user, password));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("login request")
    }

    /// The admin's first login: the seed password, changed to [`ADMIN_PASSWORD`].
    async fn first_login(&self) -> reqwest::Response {
        self.login(
            "admin",
            SEED_PASSWORD,
            Some(json!({"new_password": ADMIN_PASSWORD})),
        )
        .await
    }

    /// Performs the admin's first login and returns the token; once the password
    /// has been changed, logs in with [`ADMIN_PASSWORD`] instead.
    async fn admin_token(&self) -> String {
        let first = self.first_login().await;
        let resp = if first.status() == reqwest::StatusCode::OK {
            first
        } else {
            self.login("admin", ADMIN_PASSWORD, None).await
        };
        token_in(&expect_status(resp, 200).await)
    }

    /// Creates a `ROLE_USER` user with the admin token and returns a token for it.
    async fn user_token(&self, admin: &str, username: &str, password: &str) -> String {
        let resp = self
            .request(Method::POST, "/v1/users")
            .bearer_auth(admin)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("create user");
        expect_status(resp, 201).await;
        token_in(&expect_status(self.login(username, password, None).await, 200).await)
    }

    /// `POST /v1/settings/account/two-step` with a JSON body.
    async fn set_pin(&self, token: &str, body: Value) -> reqwest::Response {
        self.request(Method::POST, TWO_STEP)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("set pin")
    }

    /// `DELETE /v1/settings/account/two-step`.
    async fn disable_two_step(&self, token: &str) -> reqwest::Response {
        self.request(Method::DELETE, TWO_STEP)
            .bearer_auth(token)
            .send()
            .await
            .expect("disable two-step")
    }

    /// `POST /v1/account` for the registered number (`1` / `5550100`, SMS), with
    /// `pin` when given.
    async fn register_number(&self, token: &str, pin: Option<&str>) -> reqwest::Response {
        let mut body =
            json!({"cc": "1", "phone_number": "5550100", "method": "sms", "cert": "Y2VydA=="});
        if let Some(pin) = pin {
            body["pin"] = json!(pin);
        }
        self.call(Method::POST, "/v1/account", Some(token), Some(body))
            .await
    }

    /// `GET /v1/health` with the raw `Authorization` header value `authorization`, if any.
    async fn health_with(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut req = self.request(Method::GET, "/v1/health");
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        req.send().await.expect("health")
    }

    /// `GET /v1/health` with a bearer token.
    async fn health(&self, token: &str) -> reqwest::Response {
        self.health_with(Some(&format!("Bearer {token}"))).await
    }

    /// Asserts the unauthenticated probe `GET /__sandbox/health` answers 200 with a
    /// JSON content type and `{"status":"ok"}`.
    async fn assert_probe_ok(&self) {
        let r = Reply::of(self.get("/__sandbox/health").await).await;
        assert!(r.is_json(), "probe: {r:?}");
        assert_eq!(assert_status(&r, 200), json!({"status": "ok"}));
    }

    /// `GET /__sandbox/state` (no control token), asserting 200.
    async fn sandbox_state(&self) -> Value {
        self.get_ok("/__sandbox/state").await
    }
}

/// A detached handle to a server: its base URL and a client, without the
/// process, so a test can kill the server while clients keep sending.
#[derive(Clone)]
pub struct Remote {
    /// `http://HOST:PORT`
    pub base: String,
    /// The client to send requests with.
    pub client: reqwest::Client,
}

impl Server for Remote {
    fn base(&self) -> &str {
        &self.base
    }
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Asserts a successful login (200) and returns its token.
#[track_caller]
pub fn expect_token(resp: reqwest::Response) -> impl std::future::Future<Output = String> {
    let body = expect_status(resp, 200);
    async move { token_in(&body.await) }
}
