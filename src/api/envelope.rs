//! The WhatsApp response envelope (SPEC §1): `meta` on every body, the error
//! shape with fixed titles, and the three forms of "empty success".
//!
//! Handlers and extractors do not know `meta` (it comes from config), so they
//! return a status plus a `Render` marker in the response extensions; the `render`
//! middleware writes the final body once, in one place.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::EmptySuccess;
use crate::domain::Unavailable;

/// What the `render` middleware must write as the body.
#[derive(Debug, Clone)]
pub enum Render {
    /// `{"meta":…,"errors":[{code,title,details?}]}`
    Error {
        /// WhatsApp error code.
        code: u16,
        /// Optional details.
        details: Option<Cow<'static, str>>,
    },
    /// A JSON object to which `meta` is appended.
    Payload(Vec<u8>),
    /// An empty success in the configured form.
    Empty,
}

/// The fixed title of each error code the server emits (reference §3).
pub fn title(code: u16) -> &'static str {
    match code {
        1004 => "Resource already exists",
        1005 => "Access denied",
        1006 => "Resource not found",
        1008 => "Required parameter is missing",
        1009 => "Parameter value is not valid",
        1010 => "Parameter is not required",
        1014 => "Internal error",
        1015 => "Too many requests",
        1016 => "System overloaded",
        1024 => "Password change required",
        1025 => "Request is not valid",
        _ => "Generic error",
    }
}

/// The one error type of the HTTP edge: a status, a WhatsApp code and optional details.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// WhatsApp error code.
    pub code: u16,
    /// Details, omitted from the body when `None`.
    pub details: Option<Cow<'static, str>>,
}

impl ApiError {
    /// An error with details.
    pub fn new(status: StatusCode, code: u16, details: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            details: Some(details.into()),
        }
    }

    /// 400 / 1008 for a missing parameter.
    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1008,
            format!("Missing mandatory parameter '{param}'"),
        )
    }

    /// 400 / 1009 with the given details.
    pub fn invalid(details: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1009, details)
    }

    /// 401 / 1005: no, malformed, unknown, expired or revoked credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            1005,
            "Missing or invalid authentication credentials",
        )
    }

    /// 403 / 1005 with the given details.
    pub fn forbidden(details: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, 1005, details)
    }

    /// 404 / 1006 for a path no route serves.
    pub fn path_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 1006, "URL path not found")
    }

    /// 500 / 1014 without details: the cause is logged, never sent.
    pub fn internal() -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 1014,
            details: None,
        }
    }

    /// 413 / 1009 for a body over the limit.
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            1009,
            format!("Request body exceeds {limit} bytes"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(Render::Error {
            code: self.code,
            details: self.details,
        });
        resp
    }
}

impl From<Unavailable> for ApiError {
    fn from(e: Unavailable) -> Self {
        match e {
            Unavailable::Overloaded => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                1016,
                "Too many requests are waiting for password hashing; retry later",
            ),
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::internal()
            }
        }
    }
}

/// A success whose body is `payload` plus `meta`.
pub struct Payload<T: Serialize>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for Payload<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.1) {
            Ok(bytes) if bytes.first() == Some(&b'{') => {
                let mut resp = self.0.into_response();
                resp.extensions_mut().insert(Render::Payload(bytes));
                resp
            }
            _ => {
                tracing::error!("payload did not serialize to a JSON object");
                ApiError::internal().into_response()
            }
        }
    }
}

/// An operation with no payload: the configured "empty success".
pub struct Empty(pub StatusCode);

impl IntoResponse for Empty {
    fn into_response(self) -> Response {
        let mut resp = self.0.into_response();
        resp.extensions_mut().insert(Render::Empty);
        resp
    }
}

/// Renders bodies with the configured `meta` and empty-success form.
#[derive(Debug)]
pub struct Wire {
    /// `{"version":"…","api_status":"stable"}`, serialized once.
    meta: String,
    /// The empty-success body, rendered once: it is the most common body.
    empty: bytes::Bytes,
}

#[derive(Serialize)]
struct ErrorItem<'a> {
    code: u16,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
}

impl Wire {
    /// Prepares the renderer for `api.version` and `api.empty_success`.
    pub fn new(version: &str, empty_success: EmptySuccess) -> Wire {
        let meta = serde_json::json!({"version": version, "api_status": "stable"});
        // `version` first, as the real webapp wrote it (reference §2).
        let meta = format!(
            "{{\"version\":{},\"api_status\":\"stable\"}}",
            meta["version"]
        );
        let empty = match empty_success {
            EmptySuccess::Meta => format!("{{\"meta\":{meta}}}"),
            EmptySuccess::Object => "{}".to_owned(),
            EmptySuccess::Null => "null".to_owned(),
        };
        Wire {
            meta,
            empty: bytes::Bytes::from(empty),
        }
    }

    /// The body bytes for `render`.
    pub fn body(&self, render: &Render) -> bytes::Bytes {
        match render {
            Render::Error { code, details } => {
                let item = ErrorItem {
                    code: *code,
                    title: title(*code),
                    details: details.as_deref(),
                };
                let item = serde_json::to_string(&item).unwrap_or_default();
                format!("{{\"meta\":{},\"errors\":[{item}]}}", self.meta).into()
            }
            Render::Payload(obj) => {
                // Payload keys first, then `meta`, as the real server ordered them.
                let mut out = Vec::with_capacity(obj.len() + self.meta.len() + 10);
                out.extend_from_slice(&obj[..obj.len() - 1]);
                if obj.len() > 2 {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"meta\":");
                out.extend_from_slice(self.meta.as_bytes());
                out.push(b'}');
                out.into()
            }
            Render::Empty => self.empty.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(bytes: bytes::Bytes) -> Value {
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn errors_carry_meta_title_and_optional_details() {
        let w = Wire::new("v2.45.1", EmptySuccess::Meta);
        let body = parse(w.body(&Render::Error {
            code: 1014,
            details: None,
        }));
        assert_eq!(body["meta"]["version"], "v2.45.1");
        assert_eq!(body["errors"][0]["title"], "Internal error");
        assert!(body["errors"][0].get("details").is_none());
        let body = w.body(&Render::Error {
            code: 1009,
            details: Some("a \"quote\"".into()),
        });
        assert_eq!(parse(body)["errors"][0]["details"], "a \"quote\"");
    }

    #[test]
    fn payloads_get_meta_last() {
        let w = Wire::new("v1", EmptySuccess::Meta);
        let body = w.body(&Render::Payload(br#"{"users":[]}"#.to_vec()));
        assert_eq!(
            &body[..],
            br#"{"users":[],"meta":{"version":"v1","api_status":"stable"}}"#
        );
        assert_eq!(
            parse(w.body(&Render::Payload(b"{}".to_vec())))["meta"]["api_status"],
            "stable"
        );
    }

    #[test]
    fn the_three_empty_success_forms() {
        assert_eq!(
            &Wire::new("v", EmptySuccess::Object).body(&Render::Empty)[..],
            b"{}"
        );
        assert_eq!(
            &Wire::new("v", EmptySuccess::Null).body(&Render::Empty)[..],
            b"null"
        );
        let meta = parse(Wire::new("v", EmptySuccess::Meta).body(&Render::Empty));
        assert_eq!(
            meta,
            serde_json::json!({"meta": {"version": "v", "api_status": "stable"}})
        );
    }
}
