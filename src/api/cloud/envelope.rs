//! The Graph API's wire (docs/behaviour.md#graph-responses): its error envelope
//! `{"error": {"message", "type", "code", "error_subcode"?, "error_data"?,
//! "fbtrace_id"}}` with the one table of Graph and WhatsApp codes ([`table`]),
//! (in `codes`), the headers every Cloud response carries (`x-fb-request-id` equal to the
//! body's `fbtrace_id`, `x-fb-trace-id`, `facebook-api-version`,
//! `WWW-Authenticate` on 4xx errors), and `Content-Type: application/json;
//! charset=UTF-8` (docs/cloud.md#errors-headers-and-versions). Separate from the
//! On-Premises envelope (`api::envelope`, `api::error`): the two flavors share no
//! error shape.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use rand_core::{OsRng, RngCore};
use serde::Serialize;

pub use super::codes::{code_for_status, status_for_code, table, Entry};
use crate::config::GraphVersion;

/// `type` of most errors.
pub const OAUTH: &str = "OAuthException";
/// `type` of an unknown object or an unsupported method on it.
pub const GRAPH_METHOD: &str = "GraphMethodException";

/// A Graph error, rendered by [`Ctx::error`].
#[derive(Debug, Clone)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// `type`.
    pub kind: &'static str,
    /// `code`.
    pub code: u32,
    /// `error_subcode`, when the case has one.
    pub subcode: Option<u32>,
    /// `message`.
    pub message: Cow<'static, str>,
    /// `error_data.details`; `None`: no `error_data`.
    pub details: Option<Cow<'static, str>>,
    /// `is_transient: true` (a retry may succeed).
    pub transient: bool,
    /// The `WWW-Authenticate` error word: `invalid_token` for a bad token,
    /// `invalid_request` for the other 4xx errors.
    pub auth_error: Option<&'static str>,
}

impl GraphError {
    /// An `OAuthException` with `code`, the table's status and `(#<code>) <title>`.
    fn of(code: u32) -> GraphError {
        let entry = table(code).unwrap_or(Entry {
            status: 500,
            title: "Generic error",
            details: None,
        });
        let status = StatusCode::from_u16(entry.status).unwrap_or(StatusCode::BAD_REQUEST);
        GraphError {
            status,
            kind: OAUTH,
            code,
            subcode: None,
            message: format!("(#{code}) {}", entry.title).into(),
            details: entry.details.map(Cow::Borrowed),
            transient: false,
            auth_error: status.is_client_error().then_some("invalid_request"),
        }
    }

    /// Replaces `error_data.details`.
    pub fn details(mut self, details: impl Into<Cow<'static, str>>) -> GraphError {
        self.details = Some(details.into());
        self
    }

    /// 400 / 104: no token anywhere.
    pub fn no_token() -> GraphError {
        GraphError {
            message: "An access token is required to request this resource.".into(),
            ..GraphError::of(104)
        }
    }

    /// 401 / 190: a token this server does not know.
    pub fn bad_token() -> GraphError {
        GraphError {
            message: "Invalid OAuth access token - Cannot parse access token".into(),
            auth_error: Some("invalid_token"),
            ..GraphError::of(190)
        }
    }

    /// 401 / 190 / 463: an expired token; `expired_at` and `now` as the real
    /// message writes them (docs/cloud.md#tokens-and-permissions).
    pub fn expired(expired_at: &str, now: &str) -> GraphError {
        GraphError {
            subcode: Some(463),
            message: format!(
                "Error validating access token: Session has expired on {expired_at}. The current time is {now}."
            )
            .into(),
            ..GraphError::bad_token()
        }
    }

    /// 400 / 100 / 33: the object does not exist or does not take `method`.
    pub fn unsupported(method: &str, id: Option<&str>) -> GraphError {
        let method = method.to_ascii_lowercase();
        let message = match id {
            Some(id) => format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            None => format!(
                "Unsupported {method} request. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        };
        GraphError {
            kind: GRAPH_METHOD,
            subcode: Some(33),
            message: message.into(),
            ..GraphError::of(100)
        }
    }

    /// 400 / 2500: path components no route knows (`rest` starts with `/`).
    pub fn unknown_path(rest: &str) -> GraphError {
        GraphError {
            message: format!("Unknown path components: {rest}").into(),
            ..GraphError::of(2500)
        }
    }

    /// 403 / 200: the token lacks the scope.
    pub fn no_permission() -> GraphError {
        GraphError::of(200)
    }

    /// 400 / 100: a required parameter is missing.
    pub fn missing(name: &str) -> GraphError {
        GraphError {
            message: format!("(#100) The parameter {name} is required.").into(),
            ..GraphError::of(100)
        }
    }

    /// 400 / 100 with a message of its own and no `error_data`.
    pub fn param(message: &'static str) -> GraphError {
        GraphError {
            message: message.into(),
            ..GraphError::of(100)
        }
    }

    /// 400 / 100 `(#100) Invalid parameter`, `details` saying which and why.
    pub fn invalid(details: impl Into<Cow<'static, str>>) -> GraphError {
        GraphError::of(100).details(details)
    }

    /// 400 / 100: a field the node does not have.
    pub fn nonexisting_field(field: &str) -> GraphError {
        GraphError {
            message: format!(
                "(#100) Tried accessing nonexisting field ({field}) on node type (WhatsAppBusinessPhoneNumber)"
            )
            .into(),
            ..GraphError::of(100)
        }
    }

    /// 413 / 100: the body is over `server.body_limit_bytes`.
    pub fn too_large(limit: u64) -> GraphError {
        GraphError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..GraphError::invalid(format!("Request body exceeds {limit} bytes"))
        }
    }

    /// 400 / 133005.
    pub fn pin_mismatch() -> GraphError {
        GraphError::of(133005)
    }

    /// 400 / 133008, saying when to try again.
    pub fn too_many_guesses(minutes: u64) -> GraphError {
        GraphError::of(133008).details(format!(
            "Too many two-step verification PIN guesses for this phone number. Try again in {minutes} minutes."
        ))
    }

    /// 400 / 133016.
    pub fn too_many_registrations() -> GraphError {
        GraphError::of(133016)
    }

    /// 503 / 133004: the hashing queue is full; a retry may succeed.
    pub fn overloaded() -> GraphError {
        GraphError {
            transient: true,
            ..GraphError::of(133004)
        }
    }

    /// 500 / 131000: the change did not happen; the cause is logged, never sent.
    pub fn internal() -> GraphError {
        GraphError::of(131000)
    }

    /// An injected fault's error: `code` from the table when known, `details` when given.
    pub fn injected(status: u16, code: u32, details: Option<String>) -> GraphError {
        let mut e = match code {
            104 => GraphError::no_token(),
            190 => GraphError::bad_token(),
            133004 => GraphError::overloaded(),
            _ => GraphError::of(code),
        };
        e.status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        e.auth_error = e
            .status
            .is_client_error()
            .then_some(e.auth_error.unwrap_or("invalid_request"));
        if let Some(d) = details {
            e.details = Some(d.into());
        }
        e
    }
}

#[derive(Serialize)]
struct ErrorData<'a> {
    messaging_product: &'static str,
    details: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_subcode: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_transient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_data: Option<ErrorData<'a>>,
    fbtrace_id: &'a str,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorBody<'a>,
}

/// `len` random URL-safe characters (6 bits each of [`next_random`]).
fn random_id(len: usize) -> String {
    let mut id = String::with_capacity(len);
    fill_random_id(len, |c| id.push(char::from(c)));
    id
}

/// Hands `len` random URL-safe characters to `put`.
fn fill_random_id(len: usize, mut put: impl FnMut(u8)) {
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut left) = (0u64, 0);
    for _ in 0..len {
        if left < 6 {
            (bits, left) = (next_random(), 64);
        }
        put(URL_SAFE[(bits & 63) as usize]);
        (bits, left) = (bits >> 6, left - 6);
    }
}

/// A fresh 64-bit value for trace ids: SplitMix64 over a counter, keyed once per
/// process from the OS. Trace ids only need to look random and not repeat; a
/// system call per id (the OS generator) was a visible share of a Cloud request.
fn next_random() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = *KEY.get_or_init(|| OsRng.next_u64());
    let mut z = key.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One Cloud request's wire context: its trace id and the version it is served as.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `fbtrace_id` and `x-fb-request-id`: fresh for every request.
    pub fbtrace_id: String,
    /// The version served (`facebook-api-version`).
    pub version: GraphVersion,
    /// `x-ad-api-version-warning`, when an older version was auto-upgraded.
    pub warning: Option<String>,
}

impl Ctx {
    /// A context for a request served as `version`.
    pub fn new(version: GraphVersion) -> Ctx {
        Ctx {
            fbtrace_id: {
                let mut id = random_id(23);
                id.replace_range(..1, "A");
                id
            },
            version,
            warning: None,
        }
    }

    /// A JSON success body (already serialized) with the Cloud headers.
    pub fn ok(&self, body: Vec<u8>) -> Response {
        self.respond(StatusCode::OK, body)
    }

    /// `{"success": true}`: what every Cloud change answers.
    pub fn success(&self) -> Response {
        self.ok(br#"{"success":true}"#.to_vec())
    }

    /// The Graph envelope of `e`, with the Cloud headers and, on a 4xx, `WWW-Authenticate`.
    pub fn error(&self, e: GraphError) -> Response {
        let body = Envelope {
            error: ErrorBody {
                message: &e.message,
                kind: e.kind,
                code: e.code,
                error_subcode: e.subcode,
                is_transient: e.transient.then_some(true),
                error_data: e.details.as_deref().map(|details| ErrorData {
                    messaging_product: "whatsapp",
                    details,
                }),
                fbtrace_id: &self.fbtrace_id,
            },
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = self.respond(e.status, bytes);
        if let Some(word) = e.auth_error.filter(|_| e.status.is_client_error()) {
            // Quotes and backslashes cannot be told apart inside the quoted string, and
            // a header holds only visible ASCII and spaces: a message that echoes the
            // request (a path, a field name) is rid of anything else, so the header
            // is always there.
            let message: String = e
                .message
                .chars()
                .filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\'))
                .collect();
            let value = format!("OAuth \"Facebook Platform\" \"{word}\" \"{message}\"");
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }

    fn respond(&self, status: StatusCode, body: Vec<u8>) -> Response {
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        // Room for these and the edge's `x-request-id` without growing the map.
        let headers = resp.headers_mut();
        headers.reserve(8);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        set(X_FB_REQUEST_ID, &self.fbtrace_id);
        let mut trace = [0u8; 11];
        let mut at = 0;
        fill_random_id(trace.len(), |c| {
            trace[at] = c;
            at += 1;
        });
        set(
            X_FB_TRACE_ID,
            std::str::from_utf8(&trace).unwrap_or_default(),
        );
        let mut version = [0u8; 24];
        set(
            FACEBOOK_API_VERSION,
            version_text(self.version, &mut version),
        );
        if let Some(warning) = &self.warning {
            set(X_AD_API_VERSION_WARNING, warning);
        }
        resp
    }
}

const X_FB_REQUEST_ID: HeaderName = HeaderName::from_static("x-fb-request-id");
const X_FB_TRACE_ID: HeaderName = HeaderName::from_static("x-fb-trace-id");
const FACEBOOK_API_VERSION: HeaderName = HeaderName::from_static("facebook-api-version");
const X_AD_API_VERSION_WARNING: HeaderName = HeaderName::from_static("x-ad-api-version-warning");

/// `v22.0`, written into `buf` without an allocation.
fn version_text(version: GraphVersion, buf: &mut [u8; 24]) -> &str {
    let (mut major, mut minor) = (itoa::Buffer::new(), itoa::Buffer::new());
    let parts = [
        b"v",
        major.format(version.major).as_bytes(),
        b".",
        minor.format(version.minor).as_bytes(),
    ];
    let mut len = 0;
    for part in parts {
        buf[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_table_renders_with_its_title_and_status() {
        for code in [100, 190, 200, 2500, 131000, 133004, 133005, 133008, 133016] {
            let e = GraphError::of(code);
            assert_eq!(e.status.as_u16(), status_for_code(code), "{code}");
            assert!(e.message.starts_with(&format!("(#{code}) ")), "{code}");
        }
    }

    #[test]
    fn fbtrace_ids_are_fresh_and_url_safe() {
        let v = GraphVersion {
            major: 22,
            minor: 0,
        };
        let mut buf = [0u8; 24];
        assert_eq!(version_text(v, &mut buf), v.to_string());
        let widest = GraphVersion {
            major: u32::MAX,
            minor: u32::MAX,
        };
        assert_eq!(version_text(widest, &mut buf), widest.to_string());
        let (a, b) = (Ctx::new(v), Ctx::new(v));
        assert_ne!(a.fbtrace_id, b.fbtrace_id);
        assert_eq!(a.fbtrace_id.len(), 23);
        assert!(a
            .fbtrace_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
