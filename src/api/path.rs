//! The `{username}` path segment of `/v1/users/{username}`, decoded without ever
//! failing: axum's `Path` rejects percent-encoded bytes that are not UTF-8 with a
//! plain-text 400, which must never reach a client (docs/behaviour.md#envelope: every answer is the
//! envelope). No other path parameters exist.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The username named by the last path segment, percent-decoded; invalid UTF-8
/// becomes U+FFFD. Such a name cannot belong to a user (usernames are ASCII), so
/// the request gets exactly the answer any unknown name gets (403 for another
/// user's name, 404 / 1006 for an admin), in the usual order of checks.
#[derive(Debug)]
pub struct UserName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserName {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let raw = parts.uri.path().rsplit('/').next().unwrap_or_default();
        Ok(UserName(percent_decode_lossy(raw)))
    }
}

/// Decodes `%XX` escapes (a `%` not followed by two hex digits stays as it is).
fn percent_decode_lossy(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode_lossy;

    #[test]
    fn escapes_are_decoded_and_bad_bytes_replaced() {
        assert_eq!(percent_decode_lossy("alice01"), "alice01");
        assert_eq!(percent_decode_lossy("al%69ce"), "alice");
        assert_eq!(percent_decode_lossy("a%ffb"), "a\u{fffd}b");
        assert_eq!(percent_decode_lossy("%zz%4"), "%zz%4");
        assert_eq!(percent_decode_lossy("%41"), "A");
        assert_eq!(percent_decode_lossy(""), "");
    }
}
