//! The WhatsApp response envelope (docs/behaviour.md#envelope): `meta` on every body, the error
//! shape with fixed titles (from the code table in `error`), and the three forms
//! of "empty success".
//!
//! Handlers and extractors do not know `meta` (it comes from config), so they
//! return a status plus a `Render` marker in the response extensions; the `render`
//! middleware writes the final body once, in one place.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::{title, ApiError};
use crate::config::EmptySuccess;

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
        // `version` first, as the real webapp wrote it (docs/on-premises.md#response-envelope).
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
