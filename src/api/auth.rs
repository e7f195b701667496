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
    // `to_str` let through visible ASCII, spaces and tabs only: those two are the
    // whitespace left to refuse (a byte test, not a Unicode one, on the hot path).
    (!token.is_empty() && !token.bytes().any(|b| b == b' ' || b == b'\t')).then_some(token)
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

/// The client address, which the failed-login limiter keys on
/// (docs/behaviour.md#failed-login-limit): the TCP peer, or, when
/// `server.trust_forwarded_for` is on, the `X-Forwarded-For` entry the trusted
/// proxies added, `proxy_hops` places from the right. Entries further left are
/// whatever the client sent (nginx's `$proxy_add_x_forwarded_for` appends to
/// them), so they never count: a client cannot pick its own key. A header with
/// fewer entries than `proxy_hops`, or an unreadable entry at that place, means
/// the request did not come through the configured proxies: the TCP peer is used.
pub fn client_addr(parts: &Parts, trust_forwarded_for: bool, proxy_hops: u32) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if !trust_forwarded_for {
        return peer;
    }
    forwarded_from_right(&parts.headers, "x-forwarded-for", proxy_hops)
        .and_then(parse_forwarded_ip)
        .unwrap_or(peer)
}

/// The entry `hops` places from the right (1: the right-most) of a list-valued
/// header, over all its occurrences in order (two headers mean the same as one
/// joined with a comma). `None` when the list is shorter or a value is not text.
pub fn forwarded_from_right<'h>(headers: &'h HeaderMap, name: &str, hops: u32) -> Option<&'h str> {
    let mut entries = Vec::new();
    for value in headers.get_all(name) {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let hops = usize::try_from(hops).ok()?.max(1);
    entries.len().checked_sub(hops).map(|i| entries[i])
}

/// An address as proxies write it in `X-Forwarded-For`: `192.0.2.1`, `2001:db8::1`,
/// and the forms with a port some of them add (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
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

    /// The client address of a request from TCP peer 127.0.0.1 with these
    /// `X-Forwarded-For` headers.
    fn client(forwarded: &[&str], trust: bool, hops: u32) -> IpAddr {
        let mut req = axum::http::Request::new(());
        for f in forwarded {
            req.headers_mut()
                .append("x-forwarded-for", HeaderValue::from_str(f).unwrap());
        }
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5000))));
        client_addr(&req.into_parts().0, trust, hops)
    }

    #[test]
    fn the_client_address_is_the_entry_the_trusted_proxies_added() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // nginx appended 10.0.0.1 to what the client claimed.
        assert_eq!(client(&["203.0.113.9, 10.0.0.1"], true, 1), ip("10.0.0.1"));
        assert_eq!(client(&["10.0.0.1"], true, 1), ip("10.0.0.1"));
        // Two proxies: the outer one appended the client, the inner one the outer.
        assert_eq!(
            client(&["203.0.113.9, 10.0.0.1, 10.9.9.9"], true, 2),
            ip("10.0.0.1")
        );
        // Several headers form one list, in order.
        assert_eq!(
            client(&["203.0.113.9", "10.0.0.1"], true, 1),
            ip("10.0.0.1")
        );
        assert_eq!(
            client(&["203.0.113.9", "10.0.0.1, 10.0.0.2"], true, 2),
            ip("10.0.0.1")
        );
        // Ports and brackets, as some proxies write them.
        assert_eq!(client(&["10.0.0.1:4711"], true, 1), ip("10.0.0.1"));
        assert_eq!(client(&["[2001:db8::1]:4711"], true, 1), ip("2001:db8::1"));
        assert_eq!(client(&["[2001:db8::1]"], true, 1), ip("2001:db8::1"));
        assert_eq!(client(&["2001:db8::1"], true, 1), ip("2001:db8::1"));
    }

    #[test]
    fn without_trust_or_a_usable_entry_the_client_address_is_the_peer() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client(&["10.0.0.1"], false, 1), peer);
        assert_eq!(client(&[], true, 1), peer);
        // Fewer entries than trusted proxies: not the configured path.
        assert_eq!(client(&["10.0.0.1"], true, 2), peer);
        // The trusted proxy's entry is unreadable: never fall back to the client's.
        assert_eq!(client(&["10.0.0.1, unknown"], true, 1), peer);
        assert_eq!(client(&["10.0.0.1, "], true, 1), peer);
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
