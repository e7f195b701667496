//! Secrets stay secret: a scenario touching every secret the
//! server handles runs against a server logging JSON at `trace` level; no PIN,
//! password, token, Basic credential or argon2 hash may appear in anything it
//! printed, nor in any response (except the token a login reply issues).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

const SEED: &str = "Seed-Secret-77!";
const ADMIN_NEW: &str = "Admin-Chosen-Pw1!";
const WEAK: &str = "weakpassword";
const WRONG_GUESS: &str = "Wrong-Guess-42!";
const NOBODY_PASSWORD: &str = "Nobody-Pa55-x!";
const ALICE: &str = "Alice-First-Pw9!";
const ALICE_NEW: &str = "Alice-Second-Pw8!";
const PINS: [&str; 5] = ["482915", "730264", "615273", "9081726", "246813"];

/// One exchange as the client saw it.
struct Exchange {
    what: String,
    status: StatusCode,
    /// Header lines and body, as text.
    text: String,
    /// The token this reply issued (a login reply), which it may contain.
    issued: Option<String>,
}

/// Runs requests with predictable request ids (so no generated id can collide
/// with a secret by chance) and records every reply.
struct Recorder<'a> {
    app: &'a TestApp,
    log: Vec<Exchange>,
}

impl Recorder<'_> {
    async fn send(&mut self, what: &str, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let id = format!("secrets-scenario-{}", self.log.len());
        let resp = req.header("X-Request-ID", id).send().await.expect(what);
        let status = resp.status();
        let mut text = String::new();
        for (name, value) in resp.headers() {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let body = resp.text().await.expect("body");
        text.push_str(&body);
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let issued = json["users"][0]["token"].as_str().map(str::to_owned);
        self.log.push(Exchange {
            what: what.to_owned(),
            status,
            text,
            issued,
        });
        (status, json)
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.request(method, path)
    }

    async fn login(
        &mut self,
        what: &str,
        user: &str,
        password: &str,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>) {
        let mut req = self
            .req(Method::POST, "/v1/users/login")
            .header("Authorization", basic(user, password));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (status, json) = self.send(what, req).await;
        (
            status,
            json["users"][0]["token"].as_str().map(str::to_owned),
        )
    }
}

/// The scenario; returns the tokens it was issued and the argon2 hashes the
/// state held at its fullest (admin, user and PIN).
async fn scenario(r: &mut Recorder<'_>) -> (Vec<String>, Vec<String>) {
    let (s, _) = r
        .login("seed login without a new password", "admin", SEED, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r
        .login("wrong admin password", "admin", WRONG_GUESS, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r
        .login("unknown user", "nobody1", NOBODY_PASSWORD, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r
        .login(
            "weak new password",
            "admin",
            SEED,
            Some(json!({"new_password": WEAK})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, admin) = r
        .login(
            "first login",
            "admin",
            SEED,
            Some(json!({"new_password": ADMIN_NEW})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let admin = admin.expect("admin token");
    let (s, admin2) = r
        .login("second admin login", "admin", ADMIN_NEW, None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let req = r
        .req(Method::POST, "/v1/users")
        .bearer_auth(&admin)
        .json(&json!({"username": "alice01", "password": ALICE}));
    assert_eq!(r.send("create user", req).await.0, StatusCode::CREATED);
    let (s, alice) = r.login("user login", "alice01", ALICE, None).await;
    assert_eq!(s, StatusCode::OK);
    let alice = alice.expect("alice token");

    for (what, pin) in [("set PIN", PINS[0]), ("change PIN", PINS[1])] {
        let req = r
            .req(Method::POST, TWO_STEP)
            .bearer_auth(&admin)
            .json(&json!({"pin": pin}));
        assert_eq!(r.send(what, req).await.0, StatusCode::OK);
    }
    let req = r
        .req(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("pin={}", PINS[2]));
    assert_eq!(r.send("form-encoded PIN", req).await.0, StatusCode::OK);
    let hashes = stored_hashes(r.app);
    let req = r
        .req(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .json(&json!({"pin": PINS[3]}));
    assert_eq!(
        r.send("seven-digit PIN", req).await.0,
        StatusCode::BAD_REQUEST
    );
    let req = r
        .req(Method::POST, TWO_STEP)
        .bearer_auth(&alice)
        .json(&json!({"pin": PINS[4]}));
    assert_eq!(
        r.send("PIN from a non-admin", req).await.0,
        StatusCode::FORBIDDEN
    );

    let req = r
        .req(Method::PUT, "/v1/users/alice01")
        .bearer_auth(&admin)
        .json(&json!({"password": ALICE_NEW}));
    assert_eq!(r.send("change user password", req).await.0, StatusCode::OK);
    let (s, _) = r.login("old user password", "alice01", ALICE, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let req = r.req(Method::POST, "/v1/users/logout").bearer_auth(&alice);
    assert_eq!(r.send("logout", req).await.0, StatusCode::OK);
    let req = r.req(Method::GET, "/v1/health").bearer_auth(&alice);
    assert_eq!(
        r.send("revoked token", req).await.0,
        StatusCode::UNAUTHORIZED
    );
    let req = r
        .req(Method::DELETE, TWO_STEP)
        .bearer_auth(&admin)
        .json(&json!({}));
    assert_eq!(r.send("disable two-step", req).await.0, StatusCode::OK);
    let req = r
        .req(Method::DELETE, "/v1/users/alice01")
        .bearer_auth(&admin);
    assert_eq!(r.send("delete user", req).await.0, StatusCode::OK);
    let req = r.req(Method::GET, "/v1/health").bearer_auth(&admin);
    assert_eq!(r.send("health", req).await.0, StatusCode::OK);

    let tokens = [Some(admin), admin2, Some(alice)]
        .into_iter()
        .flatten()
        .collect();
    (tokens, hashes)
}

/// Every string that must never be printed, named.
fn secrets(tokens: &[String], hashes: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let credentials = [
        ("admin", SEED),
        ("admin", ADMIN_NEW),
        ("admin", WEAK),
        ("admin", WRONG_GUESS),
        ("nobody1", NOBODY_PASSWORD),
        ("alice01", ALICE),
        ("alice01", ALICE_NEW),
    ];
    for (user, password) in credentials {
        out.push((format!("password of {user}"), password.to_owned()));
        let header = basic(user, password);
        let encoded = header.strip_prefix("Basic ").expect("basic");
        out.push((format!("Basic credentials of {user}"), encoded.to_owned()));
    }
    for pin in PINS {
        out.push(("PIN".to_owned(), pin.to_owned()));
    }
    for (i, token) in tokens.iter().enumerate() {
        out.push((format!("token #{i}"), token.clone()));
    }
    for hash in hashes {
        out.push(("argon2 hash".to_owned(), hash.clone()));
    }
    out.push(("argon2id hash prefix".to_owned(), "$argon2id$".to_owned()));
    out
}

/// The strings of a log line, keys included. The `timestamp` is left out: its
/// microseconds could spell a PIN by chance. So is `latency_us`, for the same reason.
fn strings_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "timestamp" || k == "latency_us" {
                    continue;
                }
                out.push(k.clone());
                strings_of(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_of(v, out)),
        Value::String(s) => out.push(s.clone()),
        other => out.push(other.to_string()),
    }
}

/// The argon2 hashes in the state file and its companions.
fn stored_hashes(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(app.dir.path()).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !name.starts_with("state.json") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        for part in text.split('"') {
            if part.starts_with("$argon2") {
                out.push(part.to_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn no_secret_or_hash_appears_in_trace_logs_or_responses() {
    // Arrange
    let mut app = TestApp::with()
        .arg("--log-format")
        .arg("json")
        .env("RUST_LOG", "trace")
        .env("WA_TWOSTEP_AUTH__ADMIN_PASSWORD", SEED)
        .start()
        .await;
    let mut recorder = Recorder {
        app: &app,
        log: Vec::new(),
    };

    // Act
    let (tokens, hashes) = scenario(&mut recorder).await;
    let exchanges = std::mem::take(&mut recorder.log);
    let status = app.stop();
    let stderr = app.stderr();

    // Assert
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(
        hashes.len() >= 3,
        "expected password and PIN hashes in the state file: {hashes:?}"
    );
    let secrets = secrets(&tokens, &hashes);
    let mut request_lines = 0;
    for line in stderr.lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line}"));
        assert!(
            value.is_object(),
            "stderr line is not a JSON object: {line}"
        );
        if value["message"] == "request" {
            request_lines += 1;
        }
        let mut strings = Vec::new();
        strings_of(&value, &mut strings);
        for (what, secret) in &secrets {
            assert!(
                !strings.iter().any(|s| s.contains(secret.as_str())),
                "{what} in the logs: {line}"
            );
        }
    }
    assert!(
        request_lines >= exchanges.len(),
        "{request_lines} request log lines for {} requests:\n{stderr}",
        exchanges.len()
    );
    for exchange in &exchanges {
        let text = match &exchange.issued {
            Some(token) => exchange.text.replace(token.as_str(), "<issued token>"),
            None => exchange.text.clone(),
        };
        for (what, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} in the reply to '{}' ({}): {text}",
                exchange.what,
                exchange.status
            );
        }
    }
}
