//! The `{username}` path segment without axum's `Path` rejection, which would
//! reach the client as plain text (`Invalid URL: Invalid UTF-8 in ...`) instead of
//! the envelope. Found while fuzzing the API against `openapi.json`.

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::envelope::ApiError;

/// The percent-decoded `{username}` of the route. Bytes that are not UTF-8 are
/// replaced with U+FFFD, which no username may contain, so such a path names a
/// user that does not exist and the handler answers as for any unknown user.
#[derive(Debug)]
pub struct UserPath(pub String);

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is.
fn percent_decode(raw: &str) -> Vec<u8> {
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
    out
}

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .find(|(name, _)| *name == "username")
                .map(|(_, value)| UserPath(value.to_owned()))
                .ok_or_else(ApiError::internal),
            // `{username}` is the last segment of every route that has it.
            Err(RawPathParamsRejection::InvalidUtf8InPathParam(_)) => {
                let raw = parts.uri.path().rsplit('/').next().unwrap_or_default();
                Ok(UserPath(
                    String::from_utf8_lossy(&percent_decode(raw)).into_owned(),
                ))
            }
            Err(_) => Err(ApiError::internal()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_stray_percents_kept() {
        assert_eq!(percent_decode("al%69ce"), b"alice");
        assert_eq!(percent_decode("a%2Fb"), b"a/b");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%zz"), b"%zz");
        assert_eq!(percent_decode("%FF"), [0xff]);
    }
}
