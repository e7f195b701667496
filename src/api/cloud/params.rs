//! Reading a Cloud request (docs/behaviour.md#graph-parameters): parameters from a
//! JSON object body, a form body (URL-encoded or multipart), or the query string
//! for a name the body lacks; the body limit; and the PIN rule as the Graph API
//! words it. The body is read before the token check because the token may be a
//! body parameter; a body that cannot be read is reported only once the token,
//! object and scope have passed.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use super::envelope::GraphError;
use crate::api::params::{form_params, json_params};
use crate::domain::pin::Pin;

/// A Cloud request, read.
#[derive(Debug)]
pub struct Incoming {
    /// Its method.
    pub method: Method,
    /// Its headers.
    pub headers: HeaderMap,
    /// The query string's pairs (a repeated name means its last value, as in a form body).
    pub query: Vec<(String, String)>,
    /// The body's parameters, or why there are none to read.
    pub body: Result<Map<String, Value>, GraphError>,
}

/// How a body is decoded, from its `Content-Type` (media types compared without case).
#[derive(Debug, Clone, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
    Multipart(String),
    Other,
}

fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return BodyKind::Other;
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" => BodyKind::Json,
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "multipart/form-data" => {
            let boundary = parts.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("boundary")
                    .then(|| v.trim().trim_matches('"').to_owned())
            });
            match boundary {
                Some(b) if !b.is_empty() && b.len() <= 200 => BodyKind::Multipart(b),
                _ => BodyKind::Other,
            }
        }
        _ => BodyKind::Other,
    }
}

fn undecodable(reason: impl std::fmt::Display) -> GraphError {
    GraphError::invalid(format!("Unable to decode the request: {reason}"))
}

/// The text fields of a `multipart/form-data` body (file parts are skipped).
fn multipart(body: &[u8], boundary: &str) -> Result<Map<String, Value>, GraphError> {
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    let mut out = Map::new();
    let mut sections = text.split(delimiter.as_str());
    sections.next(); // the preamble
    for section in sections {
        if section.starts_with("--") {
            return Ok(out);
        }
        let section = section.strip_prefix("\r\n").unwrap_or(section);
        let (head, content) = section
            .split_once("\r\n\r\n")
            .ok_or_else(|| undecodable("a multipart part has no header end"))?;
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or_else(|| undecodable("a multipart part has no Content-Disposition"))?;
        let field = |key: &str| {
            disposition.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
            })
        };
        if field("filename").is_some() {
            continue;
        }
        let name = field("name").ok_or_else(|| undecodable("a multipart part has no name"))?;
        out.insert(name, Value::String(content.to_owned()));
    }
    Err(undecodable(
        "the multipart body does not end with its closing boundary",
    ))
}

/// Decodes a body of the given kind (JSON and form by the On-Premises edge's rules).
fn decode(kind: &BodyKind, body: &[u8]) -> Result<Map<String, Value>, GraphError> {
    match kind {
        BodyKind::Other => Ok(Map::new()),
        BodyKind::Json => json_params(body).map_err(undecodable),
        BodyKind::Form => form_params(body).map_err(undecodable),
        BodyKind::Multipart(boundary) => multipart(body, boundary),
    }
}

impl Incoming {
    /// Reads `req`: its query, and its body within `limit` bytes.
    pub async fn read(req: Request, limit: u64) -> Incoming {
        let (parts, body) = req.into_parts();
        let query =
            serde_urlencoded::from_str::<Vec<(String, String)>>(parts.uri.query().unwrap_or(""))
                .unwrap_or_default();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = if declared.is_some_and(|n| n > limit) {
            Err(GraphError::too_large(limit))
        } else {
            let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
            match Limited::new(body, limit_usize).collect().await {
                Ok(collected) => decode(&body_kind(&parts.headers), &collected.to_bytes()),
                Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                    Err(GraphError::too_large(limit))
                }
                Err(_) => Err(undecodable("the body could not be read")),
            }
        };
        Incoming {
            method: parts.method,
            headers: parts.headers,
            query,
            body,
        }
    }

    /// The parameters, once the body's problem (if any) may be reported.
    pub fn params(&self) -> Result<Params<'_>, GraphError> {
        match &self.body {
            Ok(body) => Ok(Params {
                body,
                query: &self.query,
            }),
            Err(e) => Err(e.clone()),
        }
    }

    /// `access_token` from the query, else from a readable body.
    pub fn access_token_param(&self) -> Option<String> {
        let from_query = self
            .query
            .iter()
            .rev()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.clone());
        let from_body = || match self.body.as_ref().ok()?.get("access_token")? {
            Value::String(s) => Some(s.clone()),
            _ => None,
        };
        from_query
            .filter(|t| !t.is_empty())
            .or_else(|| from_body().filter(|t| !t.is_empty()))
    }
}

/// A request's parameters: the body's, then the query's for a name the body lacks.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    body: &'a Map<String, Value>,
    query: &'a [(String, String)],
}

impl Params<'_> {
    /// The value of `name`; `null` and `""` count as absent (a form sends `pin=` for
    /// an empty field). Query values are strings.
    pub fn get(&self, name: &str) -> Option<Value> {
        let value = match self.body.get(name) {
            Some(v) => v.clone(),
            None => Value::String(self.query.iter().rev().find(|(k, _)| k == name)?.1.clone()),
        };
        match &value {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            _ => Some(value),
        }
    }

    /// `name` as text: a string as it is, any other JSON value as its JSON text (a
    /// number PIN `123456` reads `"123456"`).
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }

    /// The `pin` parameter by the Graph API's rule (docs/cloud.md#setting-the-pin):
    /// required, six characters, all ASCII digits.
    pub fn pin(&self) -> Result<Pin, GraphError> {
        let text = self.text("pin").ok_or_else(|| GraphError::missing("pin"))?;
        if text.chars().count() != 6 {
            return Err(GraphError::param(
                "(#100) Param pin must be 6 characters long.",
            ));
        }
        // Six ASCII digits always pass the PIN rule.
        Pin::parse(&text)
            .map_err(|_| GraphError::param("(#100) Param pin must be a 6-digit number."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;
    use serde_json::json;

    fn params_of(
        body: Value,
        query: &[(&str, &str)],
    ) -> (Map<String, Value>, Vec<(String, String)>) {
        let q = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (body.as_object().unwrap().clone(), q)
    }

    #[test]
    fn the_body_wins_and_the_query_fills_in() {
        let (body, query) = params_of(
            json!({"pin": 123456, "x": null}),
            &[("pin", "1"), ("fields", "id"), ("x", "q")],
        );
        let p = Params {
            body: &body,
            query: &query,
        };
        assert_eq!(p.text("pin").as_deref(), Some("123456"));
        assert_eq!(p.text("fields").as_deref(), Some("id"));
        assert_eq!(
            p.get("x"),
            None,
            "a null in the body hides the query's value"
        );
    }

    #[test]
    fn the_pin_rule_in_graph_words() {
        let check = |v: Value| {
            let (body, query) = params_of(json!({"pin": v}), &[]);
            Params {
                body: &body,
                query: &query,
            }
            .pin()
            .map(|p| p.expose().to_owned())
            .map_err(|e| e.message.to_string())
        };
        assert_eq!(check(json!("012345")).unwrap(), "012345");
        assert_eq!(check(json!(123456)).unwrap(), "123456");
        assert_eq!(
            check(json!("")).unwrap_err(),
            "(#100) The parameter pin is required."
        );
        assert_eq!(
            check(json!("12345")).unwrap_err(),
            "(#100) Param pin must be 6 characters long."
        );
        assert_eq!(
            check(json!(true)).unwrap_err(),
            "(#100) Param pin must be 6 characters long."
        );
        assert_eq!(
            check(json!("12a456")).unwrap_err(),
            "(#100) Param pin must be a 6-digit number."
        );
        assert_eq!(
            check(json!("١٢٣٤٥٦")).unwrap_err(),
            "(#100) Param pin must be a 6-digit number."
        );
        assert_eq!(
            check(json!(123456.0)).unwrap_err(),
            "(#100) Param pin must be 6 characters long."
        );
    }

    #[test]
    fn bodies_decode_by_media_type_without_case() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(body_kind(&h), BodyKind::Json);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=\"xyz\""),
        );
        assert_eq!(body_kind(&h), BodyKind::Multipart("xyz".into()));
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"pin\"\r\n\r\n123456\r\n--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nbin\r\n--xyz--\r\n";
        let m = decode(&BodyKind::Multipart("xyz".into()), body).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m["pin"], "123456");
        assert!(decode(&BodyKind::Multipart("xyz".into()), b"--xyz\r\nnope").is_err());
        assert_eq!(decode(&BodyKind::Form, b"pin=1&pin=2").unwrap()["pin"], "2");
        assert!(decode(&BodyKind::Json, b"[1]").unwrap().is_empty());
        let e = decode(&BodyKind::Json, b"{\"pin\":").unwrap_err();
        assert!(e
            .details
            .unwrap()
            .starts_with("Unable to decode the request: "));
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_errors_are_100(kind in 0..4u8, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let kind = [BodyKind::Json, BodyKind::Form, BodyKind::Multipart("b".into()), BodyKind::Other][kind as usize].clone();
            if let Err(e) = decode(&kind, &body) {
                prop_assert_eq!(e.code, 100);
            }
        }
    }
}
