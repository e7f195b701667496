//! Request parameters from a JSON object body or a form body (docs/behaviour.md#parameters), with the
//! body limit (413 / 1009) and malformed JSON (400 / 1025). Nothing else reads bodies.

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use super::error::{ApiError, Code};
use super::AppState;

/// The parameters of a request: an empty map when there are none.
#[derive(Debug, Default)]
pub struct Params(pub Map<String, Value>);

/// How a body is decoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` (parameters such as `; charset=utf-8` allowed).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else, or no content type: no parameters.
    Other,
}

/// Classifies a `Content-Type` value. The JSON media type is matched
/// case-sensitively, as the real webapp did (docs/on-premises.md#wire-conventions: it parsed JSON only when
/// the header started with `application/json`), so a client sending
/// `Application/JSON` sees here what it would see there: no parameters.
pub fn body_kind(content_type: Option<&str>) -> BodyKind {
    let Some(ct) = content_type else {
        return BodyKind::Other;
    };
    let media = ct.split(';').next().unwrap_or("").trim();
    if media == "application/json" {
        BodyKind::Json
    } else if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else {
        BodyKind::Other
    }
}

/// The parameters of a JSON body, by the rule both API flavors share: an empty
/// body, or JSON that is not an object, is no parameters. Err: why it is not JSON.
pub(crate) fn json_params(body: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    // The real webapp skipped empty bodies and treated JSON scalars as no parameters.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body)? {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// The parameters of a form body. Like PHP's form parsing, a repeated key keeps
/// its last value. Err: why it is not a form.
pub(crate) fn form_params(body: &[u8]) -> Result<Map<String, Value>, serde_urlencoded::de::Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

/// Decodes a body of the given kind into parameters.
pub fn decode(kind: BodyKind, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let undecodable = |e: &dyn std::fmt::Display| {
        ApiError::new(
            Code::InvalidRequest,
            format!("Unable to decode the request: {e}"),
        )
    };
    match kind {
        BodyKind::Other => Ok(Map::new()),
        BodyKind::Json => json_params(body).map_err(|e| undecodable(&e)),
        BodyKind::Form => form_params(body).map_err(|e| undecodable(&e)),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Params {
    /// Reads and decodes the body of `req`, enforcing `server.body_limit_bytes`.
    pub async fn read(req: Request, limit: u64) -> Result<Params, ApiError> {
        let (parts, body) = req.into_parts();
        if content_length(&parts.headers).is_some_and(|n| n > limit) {
            return Err(ApiError::too_large(limit));
        }
        let kind = body_kind(
            parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        let bytes = match Limited::new(body, limit_usize).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(ApiError::too_large(limit))
            }
            Err(_) => {
                return Err(ApiError::new(
                    Code::InvalidRequest,
                    "Unable to decode the request: the body could not be read",
                ))
            }
        };
        decode(kind, &bytes).map(Params)
    }

    /// The raw value of a parameter.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A mandatory string parameter: absent → 1008; not a string → 1009.
    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        match self.0.get(name) {
            None => Err(ApiError::missing(name)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::invalid(format!(
                "Parameter '{name}' must be a string"
            ))),
        }
    }

    /// An optional string parameter; absent, `null` and `""` all count as absent.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(format!(
                "Parameter '{name}' must be a string"
            ))),
        }
    }
}

impl FromRequest<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Params::read(req, state.edge.body_limit_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_types() {
        assert_eq!(body_kind(Some("application/json")), BodyKind::Json);
        assert_eq!(
            body_kind(Some("application/json; charset=utf-8")),
            BodyKind::Json
        );
        assert_eq!(body_kind(Some("Application/JSON")), BodyKind::Other);
        assert_eq!(
            body_kind(Some("application/x-www-form-urlencoded")),
            BodyKind::Form
        );
        assert_eq!(body_kind(Some("text/plain")), BodyKind::Other);
        assert_eq!(body_kind(None), BodyKind::Other);
    }

    #[test]
    fn json_scalars_and_empty_bodies_are_no_parameters() {
        for body in ["", "  ", "[1]", "\"x\"", "1", "null", "true", "false"] {
            assert!(
                decode(BodyKind::Json, body.as_bytes()).unwrap().is_empty(),
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_json_is_1025() {
        let e = decode(BodyKind::Json, b"{\"pin\":").unwrap_err();
        assert_eq!(e.code, 1025);
        assert!(e
            .details
            .unwrap()
            .starts_with("Unable to decode the request: "));
    }

    #[test]
    fn form_values_are_strings() {
        let m = decode(BodyKind::Form, b"pin=012345&x=a%20b").unwrap();
        assert_eq!(m["pin"], "012345");
        assert_eq!(m["x"], "a b");
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_errors_are_1025(kind in 0..3u8, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let kind = [BodyKind::Json, BodyKind::Form, BodyKind::Other][kind as usize];
            if let Err(e) = decode(kind, &body) {
                prop_assert_eq!(e.code, 1025);
            }
        }
    }
}
