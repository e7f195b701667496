//! Who is calling: bearer tokens, the admin guard, `Apikey` for health, Basic
//! credentials for login, the control-plane token, and the client address.
//! Extractors here run before any body is read (docs/behaviour.md#check-order).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;

use super::error::ApiError;
use super::AppState;
use crate::domain::users::{Principal, Role};
use crate::secret::Secret;

/// The user behind a valid `Authorization: Bearer <token>`.
#[derive(Debug)]
pub struct Caller {
    /// The user.
    pub principal: Principal,
    /// The token presented (for logout).
    pub token: Secret,
}

/// A caller with `ROLE_ADMIN`.
#[derive(Debug)]
pub struct Admin(pub Caller);

/// A caller allowed on `/v1/health`: any user token, or the API key.
#[derive(Debug)]
pub struct HealthCaller;

/// A request that passed the control-plane token check (`control.token`), or
/// any request when no token is set.
#[derive(Debug)]
pub struct ControlCaller;

/// The token of `Authorization: Bearer <token>`. The scheme word is matched
/// case-sensitively, as the real server did (docs/on-premises.md#login-and-tokens).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

/// The username and password of `Authorization: Basic …`, if well-formed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, Secret)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), Secret::new(password)))
}

/// The client address: the TCP peer, or the left-most `X-Forwarded-For` entry
/// when `server.trust_forwarded_for` is on.
pub fn client_addr(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok());
        if let Some(addr) = forwarded {
            return addr;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let principal = state
            .users
            .authenticate(token)
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(Caller {
            principal,
            token: Secret::new(token),
        })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.principal.role != Role::Admin {
            // What the real webapp's error handler sent for Symfony's AccessDenied (docs/on-premises.md#users-and-roles).
            return Err(ApiError::forbidden("User doesn't have permission"));
        }
        Ok(Admin(caller))
    }
}

impl FromRequestParts<AppState> for HealthCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(key) = value.and_then(|v| v.strip_prefix("Apikey ")) {
            let configured = &state.edge.api_key;
            if !configured.is_empty() && configured.ct_eq(key) {
                return Ok(HealthCaller);
            }
            return Err(ApiError::unauthenticated());
        }
        Caller::from_request_parts(parts, state).await?;
        Ok(HealthCaller)
    }
}

impl FromRequestParts<AppState> for ControlCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let required = &state.edge.control_token;
        if required.is_empty() {
            return Ok(ControlCaller);
        }
        match bearer(&parts.headers) {
            Some(token) if required.ct_eq(token) => Ok(ControlCaller),
            _ => Err(ApiError::unauthenticated()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn bearer_is_case_sensitive_and_needs_a_token() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer abc")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("Bearer a b")), None);
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let (u, p) = basic_credentials(&headers("Basic YWRtaW46YTpi")).unwrap(); // admin:a:b
        assert_eq!(u, "admin");
        assert_eq!(p.expose(), "a:b");
        assert!(basic_credentials(&headers("Basic !!!")).is_none());
        assert!(basic_credentials(&headers("Bearer YWRtaW46YTpi")).is_none());
    }
}
