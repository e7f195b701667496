//! The Manager pages' login when `control.token` is set (docs/behaviour.md#whatsapp-manager):
//! the token form sets an `HttpOnly`, `SameSite=Strict` session cookie, and every
//! state-changing form carries a CSRF token bound to that session. Both are
//! HMAC-SHA256 values keyed by the control token, so they need no server-side
//! table: every replica and a restarted server accept them, and changing the
//! control token logs everyone out.

use axum::http::{header, HeaderMap};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::now_secs;
use crate::secret::Secret;

/// The session cookie's name.
pub const COOKIE: &str = "wa_manager_session";
/// How long a session lasts.
pub const SESSION_SECS: i64 = 12 * 3600;

/// HMAC-SHA256 of `message` keyed by `key`.
fn mac(key: &Secret, message: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(message.as_bytes());
    m
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Decodes lower-case or upper-case hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `tag` (hex) is the MAC of `message`, compared in constant time.
fn verify(key: &Secret, message: &str, tag: &str) -> bool {
    unhex(tag).is_some_and(|t| mac(key, message).verify_slice(&t).is_ok())
}

/// A new session value: `<issued unix secs>-<random hex>.<hex mac>`. The random
/// part tells two logins of the same second apart (each gets its own CSRF token).
pub fn new_session(key: &Secret) -> String {
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let id = format!("{}-{}", now_secs(), hex(&nonce));
    let tag = hex(&mac(key, &format!("session:{id}")).finalize().into_bytes());
    format!("{id}.{tag}")
}

/// Whether `value` is a session this key issued and it has not expired.
pub fn valid_session(key: &Secret, value: &str) -> bool {
    let Some((id, tag)) = value.split_once('.') else {
        return false;
    };
    let issued = id.split_once('-').map_or(id, |(at, _)| at);
    let Ok(at) = issued.parse::<i64>() else {
        return false;
    };
    let age = now_secs() - at;
    (0..SESSION_SECS).contains(&age) && verify(key, &format!("session:{id}"), tag)
}

/// The CSRF token of a session.
pub fn csrf_for(key: &Secret, session: &str) -> String {
    hex(&mac(key, &format!("csrf:{session}")).finalize().into_bytes())
}

/// Whether `token` is the CSRF token of `session`.
pub fn csrf_ok(key: &Secret, session: &str, token: &str) -> bool {
    verify(key, &format!("csrf:{session}"), token)
}

/// The session cookie's value in a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value of a new session. No `Path`: the cookie's path is then
/// the login page's directory, which is right under any proxy prefix.
pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_csrf_tokens_verify_only_under_their_key() {
        let key = Secret::new("control-secret-123");
        let other = Secret::new("another-secret-456");
        let s = new_session(&key);
        assert!(valid_session(&key, &s));
        assert!(!valid_session(&other, &s));
        assert!(!valid_session(&key, "1.00"));
        assert!(!valid_session(
            &key,
            &format!("{}-00.ab", now_secs() - SESSION_SECS)
        ));
        assert_ne!(new_session(&key), new_session(&key));
        let csrf = csrf_for(&key, &s);
        assert!(csrf_ok(&key, &s, &csrf));
        assert!(!csrf_ok(&key, &new_session(&other), &csrf));
        assert!(!csrf_ok(&key, &s, ""));
        assert!(!csrf_ok(&key, &s, "zz"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; wa_manager_session=9.ab; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("9.ab"));
        assert!(set_cookie("x").contains("HttpOnly; SameSite=Strict"));
    }
}
