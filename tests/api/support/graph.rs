//! The Cloud (Graph) API side of the harness: paths, the token a test server is
//! started with, requests ([`Graph`], on every [`Server`]), and the one assertion
//! on the Graph envelope ([`Want`], [`expect_graph_error`]): status, `type`,
//! `code`, `error_subcode`, `message`, `error_data`, `fbtrace_id` equal to
//! `x-fb-request-id`, the other Cloud headers and `WWW-Authenticate` together.

use std::future::Future;
use std::panic::Location;

use reqwest::Method;
use serde_json::{json, Value};

use super::app::{Spawn, TestApp};
use super::assert::Reply;
use super::client::Server;

/// The static `cloud.access_token` of [`cloud_spawn`] servers (both scopes).
pub const CLOUD_TOKEN: &str = "EAAsandboxstatictoken0123456789abcdefghij";
/// The first number's ID (`cloud.phone_number_id` default).
pub const PHONE_ID: &str = "106540352242922";
/// The WABA ID (`cloud.waba_id` default).
pub const WABA_ID: &str = "102290129340398";
/// A version inside the default window.
pub const GRAPH_VERSION: &str = "v22.0";
/// The Graph JSON content type, exactly.
pub const GRAPH_JSON: &str = "application/json; charset=UTF-8";
/// The Graph API documentation link every "unsupported request" ends with.
const DOCS: &str =
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api";

/// `/v22.0/<rest>` (`rest` without its leading slash).
pub fn graph_path(rest: &str) -> String {
    format!("/{GRAPH_VERSION}/{rest}")
}

/// A spawned server with the static Cloud token [`CLOUD_TOKEN`].
pub fn cloud_spawn() -> Spawn {
    TestApp::with().env("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", CLOUD_TOKEN)
}

/// Cloud requests on any server.
#[allow(async_fn_in_trait)]
pub trait Graph: Server {
    /// `method /v22.0/<rest>` with `token` as a bearer token, if any.
    fn graph(&self, method: Method, rest: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.request(method, &graph_path(rest));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `POST /v22.0/{id}` `{"pin"}` with a JSON body.
    async fn graph_set_pin(&self, token: &str, id: &str, pin: Value) -> reqwest::Response {
        let req = self.graph(Method::POST, id, Some(token));
        req.json(&json!({"pin": pin}))
            .send()
            .await
            .expect("set pin")
    }

    /// `POST /v22.0/{id}/register` `{"messaging_product": "whatsapp", "pin"}`.
    async fn graph_register(&self, token: &str, id: &str, pin: &str) -> reqwest::Response {
        let req = self.graph(Method::POST, &format!("{id}/register"), Some(token));
        req.json(&json!({"messaging_product": "whatsapp", "pin": pin}))
            .send()
            .await
            .expect("register")
    }

    /// `POST /v22.0/{id}/deregister`.
    async fn graph_deregister(&self, token: &str, id: &str) -> reqwest::Response {
        let req = self.graph(Method::POST, &format!("{id}/deregister"), Some(token));
        req.send().await.expect("deregister")
    }

    /// `GET /v22.0/{id}?fields=…`, asserting 200; returns the body.
    async fn graph_fields(&self, token: &str, id: &str, fields: &str) -> Value {
        let req = self.graph(Method::GET, &format!("{id}?fields={fields}"), Some(token));
        let r = Reply::of(req.send().await.expect("read number")).await;
        assert_eq!(r.status, 200, "GET {id}?fields={fields}: {r:?}");
        r.json()
    }
}

impl<S: Server> Graph for S {}

/// The Graph error a test expects.
#[derive(Debug, Clone)]
pub struct Want {
    /// HTTP status.
    pub status: u16,
    /// `code`.
    pub code: i64,
    /// `error_subcode`; `None`: absent.
    pub subcode: Option<i64>,
    /// `message`, exactly.
    pub message: String,
    /// `error_data.details` starts with this; `None`: no `error_data`.
    pub details: Option<String>,
}

impl Want {
    /// `status` / `code` with `message`, no subcode, no `error_data`.
    pub fn new(status: u16, code: i64, message: impl Into<String>) -> Want {
        Want {
            status,
            code,
            subcode: None,
            message: message.into(),
            details: None,
        }
    }

    /// With `error_data.details` starting with `details`.
    pub fn details(mut self, details: &str) -> Want {
        self.details = Some(details.to_owned());
        self
    }

    /// With `error_subcode`.
    pub fn subcode(mut self, subcode: i64) -> Want {
        self.subcode = Some(subcode);
        self
    }
}

/// 400 / 104: no token.
pub fn no_token() -> Want {
    Want::new(
        400,
        104,
        "An access token is required to request this resource.",
    )
}
/// 401 / 190: an unknown token.
pub fn bad_token() -> Want {
    Want::new(
        401,
        190,
        "Invalid OAuth access token - Cannot parse access token",
    )
}
/// 400 / 100 / 33: no such object, or it does not take `method`.
pub fn unsupported(method: &str, id: &str) -> Want {
    Want::new(
        400,
        100,
        format!("Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. {DOCS}"),
    )
    .subcode(33)
}
/// 400 / 2500.
pub fn unknown_path(rest: &str) -> Want {
    Want::new(400, 2500, format!("Unknown path components: {rest}"))
}
/// 403 / 200.
pub fn no_permission() -> Want {
    Want::new(403, 200, "(#200) Permissions error")
}
/// 400 / 100: a missing parameter.
pub fn missing(name: &str) -> Want {
    Want::new(
        400,
        100,
        format!("(#100) The parameter {name} is required."),
    )
}
/// 400 / 100: a PIN that is not six characters.
pub fn pin_length() -> Want {
    Want::new(400, 100, "(#100) Param pin must be 6 characters long.")
}
/// 400 / 100: six characters that are not all ASCII digits.
pub fn pin_digits() -> Want {
    Want::new(400, 100, "(#100) Param pin must be a 6-digit number.")
}
/// 400 / 100 `(#100) Invalid parameter` with details starting with `details`.
pub fn invalid(details: &str) -> Want {
    Want::new(400, 100, "(#100) Invalid parameter").details(details)
}
/// 400 / 133005.
pub fn pin_mismatch() -> Want {
    Want::new(400, 133005, "(#133005) Two step verification PIN Mismatch")
        .details("Two-step verification PIN incorrect.")
}
/// 400 / 133008.
pub fn too_many_guesses() -> Want {
    Want::new(
        400,
        133008,
        "(#133008) Too Many two step verification PIN Guesses",
    )
    .details("Too many two-step verification PIN guesses for this phone number. Try again in ")
}
/// 400 / 133016.
pub fn too_many_registrations() -> Want {
    Want::new(400, 133016, "(#133016) Account register deregister rate limit exceeded").details(
        "Registration or Deregistration failed because there were too many attempts for this phone number in a short period of time",
    )
}

/// `None` when `r` carries the Cloud headers: the Graph content type, an
/// `x-fb-trace-id` and a `facebook-api-version`.
pub fn graph_headers_mismatch(r: &Reply) -> Option<String> {
    let mut wrong = Vec::new();
    if r.header("content-type").as_deref() != Some(GRAPH_JSON) {
        wrong.push(format!("content-type {:?}", r.header("content-type")));
    }
    if r.header("x-fb-trace-id").is_none_or(|v| v.is_empty()) {
        wrong.push("no x-fb-trace-id".to_owned());
    }
    if r.header("x-fb-request-id").is_none_or(|v| v.is_empty()) {
        wrong.push("no x-fb-request-id".to_owned());
    }
    let version = r.header("facebook-api-version").unwrap_or_default();
    if !version.starts_with('v') {
        wrong.push(format!("facebook-api-version {version:?}"));
    }
    (!wrong.is_empty()).then(|| wrong.join(", "))
}

/// `None` when `r` is the Graph error `want`, else what differs.
pub fn graph_mismatch(r: &Reply, want: &Want) -> Option<String> {
    let body = match r.try_json() {
        Ok(b) => b,
        Err(e) => return Some(format!("body is not JSON: {e}")),
    };
    let e = &body["error"];
    let mut wrong: Vec<String> = graph_headers_mismatch(r).into_iter().collect();
    if r.status != want.status {
        wrong.push(format!("status {} (expected {})", r.status, want.status));
    }
    if e["code"] != want.code {
        wrong.push(format!("code {} (expected {})", e["code"], want.code));
    }
    if e["message"] != want.message.as_str() {
        wrong.push(format!(
            "message {} (expected {:?})",
            e["message"], want.message
        ));
    }
    let kind = if want.subcode == Some(33) {
        "GraphMethodException"
    } else {
        "OAuthException"
    };
    if e["type"] != kind {
        wrong.push(format!("type {} (expected {kind})", e["type"]));
    }
    if e.get("error_subcode").and_then(Value::as_i64) != want.subcode {
        wrong.push(format!(
            "error_subcode {} (expected {:?})",
            e["error_subcode"], want.subcode
        ));
    }
    match (&want.details, e.get("error_data")) {
        (None, None) => {}
        (Some(d), Some(data))
            if data["messaging_product"] == "whatsapp"
                && data["details"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(d.as_str())) => {}
        (_, data) => wrong.push(format!(
            "error_data {data:?} (expected details {:?})",
            want.details
        )),
    }
    let trace = e["fbtrace_id"].as_str().unwrap_or_default();
    if trace.is_empty() || r.header("x-fb-request-id").as_deref() != Some(trace) {
        wrong.push(format!(
            "fbtrace_id {trace:?} is not x-fb-request-id {:?}",
            r.header("x-fb-request-id")
        ));
    }
    let auth = r.header("www-authenticate");
    if (400..500).contains(&r.status) {
        let word = if want.code == 190 {
            "invalid_token"
        } else {
            "invalid_request"
        };
        // The message as a header can carry it: visible ASCII and spaces, no quote
        // or backslash.
        let message: String = want
            .message
            .chars()
            .filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\'))
            .collect();
        let expected = format!("OAuth \"Facebook Platform\" \"{word}\" \"{message}\"");
        if auth.as_deref() != Some(expected.as_str()) {
            wrong.push(format!("WWW-Authenticate {auth:?} (expected {expected:?})"));
        }
    } else if auth.is_some() {
        wrong.push(format!("WWW-Authenticate on a {}: {auth:?}", r.status));
    }
    (!wrong.is_empty()).then(|| format!("{}; body {}", wrong.join(", "), r.text()))
}

/// Asserts `r` is the Graph error `want`; returns the body.
#[track_caller]
pub fn assert_graph_error(r: &Reply, want: &Want) -> Value {
    if let Some(wrong) = graph_mismatch(r, want) {
        panic!("at {}: {wrong}", Location::caller());
    }
    r.json()
}

/// [`assert_graph_error`] on a reqwest response.
#[track_caller]
pub fn expect_graph_error(resp: reqwest::Response, want: Want) -> impl Future<Output = Value> {
    let at = Location::caller();
    async move {
        let r = Reply::of(resp).await;
        if let Some(wrong) = graph_mismatch(&r, &want) {
            panic!("at {at}: {wrong}");
        }
        r.json()
    }
}

/// Asserts a Cloud success: 200, the Cloud headers and `{"success": true}`.
#[track_caller]
pub fn expect_graph_success(resp: reqwest::Response) -> impl Future<Output = ()> {
    let at = Location::caller();
    async move {
        let r = Reply::of(resp).await;
        let ok = r.status == 200 && r.try_json().ok() == Some(json!({"success": true}));
        if let Some(wrong) =
            graph_headers_mismatch(&r).or((!ok).then(|| "not 200 {\"success\":true}".to_owned()))
        {
            panic!("at {at}: {wrong}: {r:?}");
        }
    }
}

/// The first number as `/__sandbox/state` shows it with the default settings,
/// before any change to its PIN (`updated_at` null) and with untouched budgets.
pub fn first_number_view(registered: bool, two_step_enabled: bool) -> Value {
    json!({
        "id": PHONE_ID,
        "display_phone_number": "+1 5550100",
        "verified_name": "Sandbox Business",
        "registered": registered,
        "two_step": {"enabled": two_step_enabled, "updated_at": null},
        "pin_guesses": {"used": 0, "limit": 10},
        "registrations": {"used": 0, "limit": 10}
    })
}
