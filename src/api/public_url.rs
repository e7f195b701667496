//! The base of every absolute link the server writes (docs/behaviour.md#public-url):
//! `server.public_url` when set; otherwise derived from the request, from `Host`,
//! or from `X-Forwarded-Host` / `X-Forwarded-Proto` when `server.trust_forwarded_for`
//! says a proxy sets them. A derived base has no path: behind a proxy that strips
//! a path prefix, only `server.public_url` can say what the prefix is.

use std::net::SocketAddr;

use axum::http::uri::Authority;
use axum::http::{header, HeaderMap};

use super::auth::forwarded_from_right;

/// What the derivation needs from the settings.
#[derive(Debug, Clone)]
pub struct PublicUrl {
    /// `server.public_url` without a trailing `/`; empty: derive it.
    pub configured: String,
    /// `server.trust_forwarded_for`.
    pub trust_forwarded: bool,
    /// `server.proxy_hops`.
    pub proxy_hops: u32,
    /// The listen address, for a request that names no usable host.
    pub local_addr: SocketAddr,
}

impl PublicUrl {
    /// From the settings' values; `configured` may end in `/`.
    pub fn new(
        configured: &str,
        trust_forwarded: bool,
        proxy_hops: u32,
        local_addr: SocketAddr,
    ) -> Self {
        PublicUrl {
            configured: configured.trim_end_matches('/').to_owned(),
            trust_forwarded,
            proxy_hops,
            local_addr,
        }
    }

    /// The base for a request with these headers: `scheme://host[:port][/path]`,
    /// never ending in `/`, so `base + "/__sandbox/..."` is a link.
    pub fn base(&self, headers: &HeaderMap) -> String {
        if !self.configured.is_empty() {
            return self.configured.clone();
        }
        let forwarded = |name| {
            self.trust_forwarded
                .then(|| forwarded_value(headers, name, self.proxy_hops))
                .flatten()
        };
        let scheme = forwarded("x-forwarded-proto")
            .map(str::to_ascii_lowercase)
            .filter(|s| s == "http" || s == "https")
            .unwrap_or_else(|| "http".to_owned());
        let host = forwarded("x-forwarded-host")
            .and_then(authority)
            .or_else(|| {
                let host = headers.get(header::HOST)?.to_str().ok()?;
                authority(host)
            })
            .unwrap_or_else(|| self.local_addr.to_string());
        format!("{scheme}://{host}")
    }
}

/// The value a trusted proxy set in a forwarded header: `hops` places from the
/// right when proxies append to it, or the left-most when there are fewer values
/// (proxies that overwrite it, as nginx's `proxy_set_header` does, leave one).
fn forwarded_value<'h>(headers: &'h HeaderMap, name: &str, hops: u32) -> Option<&'h str> {
    forwarded_from_right(headers, name, hops)
        .or_else(|| forwarded_from_right(headers, name, 1).and(first_value(headers, name)))
        .filter(|v| !v.is_empty())
}

/// The left-most entry of a list-valued header.
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split(',')
        .next()
        .map(str::trim)
}

/// `value` if it is a plain `host[:port]`: no user name, path or anything a link
/// could not hold.
fn authority(value: &str) -> Option<String> {
    let a: Authority = value.trim().parse().ok()?;
    (!a.as_str().contains('@') && !a.host().is_empty()).then(|| a.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const LISTEN: &str = "127.0.0.1:8080";

    fn base(configured: &str, trust: bool, hops: u32, headers: &[(&str, &str)]) -> String {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        PublicUrl::new(configured, trust, hops, LISTEN.parse().unwrap()).base(&map)
    }

    #[test]
    fn the_configured_public_url_wins_over_every_header() {
        let headers = [
            ("host", "inner:8080"),
            ("x-forwarded-host", "outer.example"),
            ("x-forwarded-proto", "https"),
        ];
        let b = base("https://sandbox.example.com/wa/", true, 1, &headers);
        assert_eq!(b, "https://sandbox.example.com/wa");
        assert_eq!(
            base("http://127.0.0.1:9", false, 1, &headers),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn without_it_the_host_header_names_the_base() {
        assert_eq!(
            base("", false, 1, &[("host", "sandbox.test:8443")]),
            "http://sandbox.test:8443"
        );
        assert_eq!(base("", false, 1, &[("host", "[::1]:9")]), "http://[::1]:9");
        // No usable Host: the listen address.
        assert_eq!(base("", false, 1, &[]), "http://127.0.0.1:8080");
        assert_eq!(
            base("", false, 1, &[("host", "a@b")]),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base("", false, 1, &[("host", "a/b")]),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn forwarded_host_and_proto_count_only_when_trusted() {
        let headers = [
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "sandbox.example.com"),
            ("x-forwarded-proto", "HTTPS"),
        ];
        assert_eq!(base("", false, 1, &headers), "http://127.0.0.1:8080");
        assert_eq!(base("", true, 1, &headers), "https://sandbox.example.com");
    }

    #[test]
    fn forwarded_values_are_taken_as_the_trusted_proxies_set_them() {
        // Appended by two proxies: the outer one's value, 2 from the right.
        let appended = [
            (
                "x-forwarded-host",
                "client-said.example, sandbox.example.com, inner",
            ),
            ("x-forwarded-proto", "http, https, http"),
        ];
        assert_eq!(base("", true, 2, &appended), "https://sandbox.example.com");
        // Overwritten by one proxy: its single value, whatever proxy_hops says.
        let overwritten = [
            ("x-forwarded-host", "sandbox.example.com"),
            ("x-forwarded-proto", "https"),
        ];
        assert_eq!(
            base("", true, 2, &overwritten),
            "https://sandbox.example.com"
        );
        // Values no link could hold fall back to Host and http.
        let junk = [
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "evil.example/path"),
            ("x-forwarded-proto", "javascript"),
        ];
        assert_eq!(base("", true, 1, &junk), "http://127.0.0.1:8080");
    }
}
