//! Who is calling the Cloud API (docs/behaviour.md#cloud-tokens): the access token
//! from `Authorization: Bearer <token>` or `OAuth <token>` (scheme in any case), or
//! else the `access_token` query or body parameter; then the token service's
//! verdict in Graph words (104, 190, 190 / 463) and the scope check (200).

use axum::http::{header, HeaderMap};

use super::envelope::GraphError;
use super::params::Incoming;
use crate::api::timestamps::graph_session_time;
use crate::domain::cloud_tokens::{Access, CloudAuthError, CloudTokens, Scope};
use crate::secret::Secret;

/// The token of an `Authorization` header with the `Bearer` or `OAuth` scheme.
fn from_header(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth");
    let token = token.trim();
    (known && !token.is_empty()).then_some(token)
}

/// The token a request presents, if any: the header first, then the parameters.
pub fn presented(incoming: &Incoming) -> Option<Secret> {
    match from_header(&incoming.headers) {
        Some(token) => Some(Secret::new(token)),
        None => incoming.access_token_param().map(Secret::new),
    }
}

/// Checks the token a request presents.
pub fn authenticate(tokens: &CloudTokens, incoming: &Incoming) -> Result<Access, GraphError> {
    let token = presented(incoming).ok_or_else(GraphError::no_token)?;
    tokens.authenticate(token.expose()).map_err(|e| match e {
        CloudAuthError::Unknown => GraphError::bad_token(),
        CloudAuthError::Expired { expired_at, now } => {
            GraphError::expired(&graph_session_time(expired_at), &graph_session_time(now))
        }
    })
}

/// 403 / 200 unless `access` carries `scope`.
pub fn require(access: &Access, scope: Scope) -> Result<(), GraphError> {
    if access.has(scope) {
        Ok(())
    } else {
        Err(GraphError::no_permission())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn bearer_and_oauth_in_any_case() {
        assert_eq!(from_header(&h("Bearer EAAx")), Some("EAAx"));
        assert_eq!(from_header(&h("bearer EAAx")), Some("EAAx"));
        assert_eq!(from_header(&h("OAuth EAAx")), Some("EAAx"));
        assert_eq!(from_header(&h("Basic EAAx")), None);
        assert_eq!(from_header(&h("Bearer ")), None);
    }
}
