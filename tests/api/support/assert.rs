//! The one set of response assertions: a [`Reply`] (a response with its body read,
//! from reqwest or a raw socket) and the envelope checks on it, which look at the
//! status, the JSON content type, `errors[0]` (code, the title from
//! [`TITLES`](super::consts::TITLES), details) and `meta` together.

use std::future::Future;
use std::panic::Location;

use serde_json::{json, Value};

use super::consts::{title, API_VERSION, DECODE_PREFIX, JSON};

/// A response whose body has been read: what every assertion looks at.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and raw values, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body bytes (decoded from chunks when it was chunked).
    pub body: Vec<u8>,
}

impl Reply {
    /// Reads a reqwest response to its end.
    pub async fn of(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let body = resp.bytes().await.expect("read body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name` (any case), as raw bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of header `name` (any case), as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_bytes(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Every value of header `name` (any case), joined with `,`.
    pub fn header_all(&self, name: &str) -> String {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether the content type is JSON.
    pub fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with(JSON))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::Null` when empty); panics when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        self.try_json()
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    /// The body as JSON (`Value::Null` when empty), or why it is not.
    pub fn try_json(&self) -> Result<Value, String> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("{e}: {}", self.text()))
    }
}

/// The default `meta` object.
pub fn meta() -> Value {
    json!({"version": API_VERSION, "api_status": "stable"})
}

/// The default empty-success body (`api.empty_success = "meta"`): `{"meta": …}`.
pub fn meta_only() -> Value {
    json!({"meta": meta()})
}

/// `None` when `r` is the error envelope `(status, code, details)` with the default
/// `meta` and a JSON content type, else what differs. `details: None` means the
/// error carries no `details` at all.
pub fn error_mismatch(r: &Reply, status: u16, code: i64, details: Option<&str>) -> Option<String> {
    error_mismatch_with_meta(r, status, code, details, &meta())
}

/// [`error_mismatch`] for a server configured with another `meta` (`api.version`).
pub fn error_mismatch_with_meta(
    r: &Reply,
    status: u16,
    code: i64,
    details: Option<&str>,
    meta: &Value,
) -> Option<String> {
    let body = match r.try_json() {
        Ok(body) => body,
        Err(e) => return Some(format!("expected {status} {code}: body is not JSON: {e}")),
    };
    let error = &body["errors"][0];
    let mut wrong = Vec::new();
    if r.status != status {
        wrong.push(format!("status {} (expected {status})", r.status));
    }
    if !r.is_json() {
        wrong.push(format!("content-type {:?}", r.header("content-type")));
    }
    if error["code"] != code {
        wrong.push(format!("code {} (expected {code})", error["code"]));
    }
    match title(code) {
        Some(t) if error["title"] == t => {}
        expected => wrong.push(format!("title {} (expected {expected:?})", error["title"])),
    }
    match details {
        Some(d) if error["details"] != d => {
            wrong.push(format!("details {} (expected {d:?})", error["details"]))
        }
        None if error.get("details").is_some() => {
            wrong.push(format!("details {} (expected none)", error["details"]))
        }
        _ => {}
    }
    if body["meta"] != *meta {
        wrong.push(format!("meta {} (expected {meta})", body["meta"]));
    }
    (!wrong.is_empty()).then(|| format!("{}; body {}", wrong.join(", "), r.text()))
}

/// `None` when `r` is the 400 / 1025 envelope of a body that could not be decoded:
/// details [`DECODE_PREFIX`] plus a reason (which names the parser's complaint, so
/// it is not fixed), else what differs.
pub fn decode_error_mismatch(r: &Reply) -> Option<String> {
    let details = r
        .try_json()
        .ok()
        .and_then(|b| b["errors"][0]["details"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let has_reason = details
        .strip_prefix(DECODE_PREFIX)
        .is_some_and(|reason| !reason.trim().is_empty());
    if !has_reason {
        return Some(format!(
            "details {details:?} are not {DECODE_PREFIX:?} plus a reason; {r:?}"
        ));
    }
    error_mismatch(r, 400, 1025, Some(&details))
}

/// Panics at `at` (the test's line) when `wrong` says something differs.
fn fail_at(at: &Location<'_>, wrong: Option<String>) {
    if let Some(wrong) = wrong {
        panic!("at {at}: {wrong}");
    }
}

/// The JSON body of `r`, or a panic at `at`.
fn json_at(r: &Reply, at: &Location<'_>) -> Value {
    r.try_json()
        .unwrap_or_else(|e| panic!("at {at}: body is not JSON: {e}"))
}

/// `None` when `r` has `status`, else what came instead.
fn status_mismatch(r: &Reply, status: u16) -> Option<String> {
    (r.status != status)
        .then(|| format!("status {} (expected {status}); body {}", r.status, r.text()))
}

/// `None` when `r` is a refused login as the real server answers it: 401, an empty
/// body and no `WWW-Authenticate` header.
fn login_refused_mismatch(r: &Reply) -> Option<String> {
    let ok = r.status == 401 && r.body.is_empty() && r.header("www-authenticate").is_none();
    (!ok).then(|| format!("expected a bare 401 (no body, no WWW-Authenticate), got {r:?}"))
}

/// Asserts `r` is the error envelope `(status, code, details)` (see [`error_mismatch`])
/// and returns its body.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, code: i64, details: Option<&str>) -> Value {
    let at = Location::caller();
    fail_at(at, error_mismatch(r, status, code, details));
    json_at(r, at)
}

/// Asserts the status of `r` and returns its body as JSON (`Value::Null` when empty).
#[track_caller]
pub fn assert_status(r: &Reply, status: u16) -> Value {
    let at = Location::caller();
    fail_at(at, status_mismatch(r, status));
    json_at(r, at)
}

/// Asserts `r` is a refused login: 401, an empty body, no `WWW-Authenticate`.
#[track_caller]
pub fn assert_login_refused(r: &Reply) {
    fail_at(Location::caller(), login_refused_mismatch(r));
}

/// [`assert_error`] on a reqwest response; returns the body.
#[track_caller]
pub fn expect_error(
    resp: reqwest::Response,
    status: u16,
    code: i64,
    details: Option<&str>,
) -> impl Future<Output = Value> + '_ {
    let at = Location::caller();
    async move {
        let r = Reply::of(resp).await;
        fail_at(at, error_mismatch(&r, status, code, details));
        json_at(&r, at)
    }
}

/// [`decode_error_mismatch`] as an assertion on a reqwest response; returns the body.
#[track_caller]
pub fn expect_decode_error(resp: reqwest::Response) -> impl Future<Output = Value> {
    let at = Location::caller();
    async move {
        let r = Reply::of(resp).await;
        fail_at(at, decode_error_mismatch(&r));
        json_at(&r, at)
    }
}

/// [`assert_status`] on a reqwest response; returns the JSON body (`Null` when empty).
#[track_caller]
pub fn expect_status(resp: reqwest::Response, status: u16) -> impl Future<Output = Value> {
    let at = Location::caller();
    async move {
        let r = Reply::of(resp).await;
        fail_at(at, status_mismatch(&r, status));
        json_at(&r, at)
    }
}

/// [`assert_login_refused`] on a reqwest response.
#[track_caller]
pub fn expect_login_refused(resp: reqwest::Response) -> impl Future<Output = ()> {
    let at = Location::caller();
    async move { fail_at(at, login_refused_mismatch(&Reply::of(resp).await)) }
}

/// The failed cases of a table test, so one run reports every mismatch at once.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Records `case` unless `r` is the error envelope `(status, code, details)`.
    pub fn error(&mut self, case: &str, r: &Reply, status: u16, code: i64, details: Option<&str>) {
        if let Some(wrong) = error_mismatch(r, status, code, details) {
            self.0.push(format!("case {case}: {wrong}"));
        }
    }

    /// Records `case` unless `r` is a 400 / 1025 (see [`decode_error_mismatch`]).
    pub fn decode_error(&mut self, case: &str, r: &Reply) {
        if let Some(wrong) = decode_error_mismatch(r) {
            self.0.push(format!("case {case}: {wrong}"));
        }
    }

    /// Records `case` unless `r` is a 200 with a JSON content type and exactly `body`.
    pub fn success(&mut self, case: &str, r: &Reply, body: &Value) {
        let ok = r.status == 200 && r.is_json() && r.try_json().as_ref() == Ok(body);
        if !ok {
            self.0
                .push(format!("case {case}: expected 200 {body}, got {r:?}"));
        }
    }

    /// Records a failure described by the test.
    pub fn push(&mut self, failure: String) {
        self.0.push(failure);
    }

    /// Panics listing every failed case.
    #[track_caller]
    pub fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} case(s) failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Whether `s` has the shape of `pattern`, where `9` stands for one ASCII digit and
/// every other character for itself.
pub fn matches_shape(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'9' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Whether `s` is a timestamp as the server writes them: RFC 3339 UTC with
/// milliseconds, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn is_rfc3339_utc_millis(s: &str) -> bool {
    matches_shape(s, "9999-99-99T99:99:99.999Z")
}

/// Asserts a configuration error: exit 2, and exactly one line on stderr, in the
/// `wa-twostep: configuration error: …` form, without a repeated key.
#[track_caller]
pub fn assert_one_line_config_error(code: Option<i32>, err: &str) {
    assert_eq!(code, Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(
        lines[0].starts_with("wa-twostep: configuration error: "),
        "stderr: {err}"
    );
    assert!(!err.contains("in `"), "the key is repeated: {err}");
}
