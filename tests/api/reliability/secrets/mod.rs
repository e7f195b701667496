//! Secrets stay secret: scenarios touching every secret the server handles
//! ([`onprem`]: passwords, tokens, PINs over `/v1`; [`cloud`]: Cloud tokens and PINs
//! over the Graph API) run against a server logging JSON at `trace` level; no
//! secret or argon2 hash may appear in anything it printed, nor in any response
//! (except the token a reply issues). The recorder and the checks are shared here.

mod cloud;
mod onprem;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

/// One exchange as the client saw it.
pub(super) struct Exchange {
    what: String,
    status: StatusCode,
    /// Header lines and body, as text.
    text: String,
    /// The token this reply issued (a login reply or a Cloud token mint), which it may contain.
    issued: Option<String>,
}

/// Runs requests with predictable request ids (so no generated id can collide
/// with a secret by chance) and records every reply.
pub(super) struct Recorder<'a> {
    pub(super) app: &'a TestApp,
    pub(super) log: Vec<Exchange>,
}

impl Recorder<'_> {
    pub(super) async fn send(
        &mut self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> (StatusCode, Value) {
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
        let issued = json["users"][0]["token"]
            .as_str()
            .or(json["access_token"].as_str())
            .map(str::to_owned);
        self.log.push(Exchange {
            what: what.to_owned(),
            status,
            text,
            issued,
        });
        (status, json)
    }

    pub(super) fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.request(method, path)
    }

    pub(super) async fn login(
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
pub(super) fn stored_hashes(app: &TestApp) -> Vec<String> {
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

/// Asserts no `secrets` string appears in a line of `stderr` (each a JSON object)
/// or in a reply of `exchanges` (but the token a reply issued), and that every
/// exchange has its request log line.
pub(super) fn assert_nothing_leaked(
    stderr: &str,
    exchanges: &[Exchange],
    secrets: &[(String, String)],
) {
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
        for (what, secret) in secrets {
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
    for exchange in exchanges {
        let text = match &exchange.issued {
            Some(token) => exchange.text.replace(token.as_str(), "<issued token>"),
            None => exchange.text.clone(),
        };
        for (what, secret) in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} in the reply to '{}' ({}): {text}",
                exchange.what,
                exchange.status
            );
        }
    }
}
