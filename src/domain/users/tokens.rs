//! Bearer tokens (On-Premises and Cloud): 256 random bits. Only a token's digest
//! is kept, in memory and on disk, so a leaked state file holds no usable token.
//!
//! The digest is BLAKE2s-256, written `b2:<64 hex digits>`. Releases before it
//! stored hex SHA-256 (no prefix); such keys are still found, so a token issued
//! before an upgrade keeps working until it expires. BLAKE2s is a keyless hash
//! as strong as SHA-256 here (the input has 256 random bits) and costs about a
//! fifth of the instructions on CPUs without SHA extensions, on every
//! authenticated request. It is already in the tree through argon2.

use std::collections::HashMap;

use base64::Engine;
use blake2::{Blake2s256, Digest};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use crate::secret::Secret;
use crate::store::State;

/// Prefix of the current digest keys.
const PREFIX: &[u8; 3] = b"b2:";

/// The key under which `token` is stored now: `b2:` and hex BLAKE2s-256.
pub fn token_digest(token: &str) -> String {
    let mut buf = [0u8; 67];
    digest_key(token, &mut buf).to_owned()
}

/// Writes `token`'s key into `buf`: the per-request token check needs no allocation.
pub(crate) fn digest_key<'b>(token: &str, buf: &'b mut [u8; 67]) -> &'b str {
    buf[..3].copy_from_slice(PREFIX);
    let (_, hex) = buf.split_at_mut(3);
    hex_into(&Blake2s256::digest(token.as_bytes()), hex);
    std::str::from_utf8(buf).unwrap_or_default()
}

/// The key an earlier release stored `token` under: hex SHA-256, no prefix.
fn legacy_key<'b>(token: &str, buf: &'b mut [u8; 64]) -> &'b str {
    hex_into(&Sha256::digest(token.as_bytes()), buf);
    std::str::from_utf8(buf).unwrap_or_default()
}

/// Lower-case hex of `bytes` into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
}

/// The entry of `token` in `tokens`, under its current key or, failing that, the
/// key an earlier release stored it under. Only an unknown token pays both hashes.
pub(crate) fn find<'m, V>(
    tokens: &'m HashMap<String, V>,
    token: &str,
) -> Option<(&'m String, &'m V)> {
    let mut buf = [0u8; 67];
    if let Some(found) = tokens.get_key_value(digest_key(token, &mut buf)) {
        return Some(found);
    }
    let mut legacy = [0u8; 64];
    tokens.get_key_value(legacy_key(token, &mut legacy))
}

/// A fresh token from the OS random source.
pub(crate) fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Digests of `username`'s oldest tokens that must go so one more fits under
/// `max` live tokens, oldest issued first. The scan covers all tokens, but only
/// logins call it, and a login already costs an argon2 run.
pub(super) fn oldest_over_cap(state: &State, username: &str, max: usize) -> Vec<String> {
    let mut mine: Vec<((i64, i64), &String)> = state
        .tokens
        .iter()
        .filter(|(_, t)| t.username == username)
        .map(|(d, t)| ((t.issued_ms, t.expires_at), d))
        .collect();
    let excess = (mine.len() + 1).saturating_sub(max);
    if excess == 0 {
        return Vec::new();
    }
    mine.select_nth_unstable(excess - 1);
    mine[..excess].iter().map(|(_, d)| (*d).clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_digests_are_prefixed_hex_blake2s() {
        // BLAKE2s-256("abc"), RFC 7693 appendix B.
        assert_eq!(
            token_digest("abc"),
            "b2:508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
        );
    }

    #[test]
    fn a_token_stored_by_an_earlier_release_under_sha256_is_still_found() {
        let mut tokens = HashMap::new();
        // SHA-256("abc"): how releases before BLAKE2s keyed the token "abc".
        let legacy = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        tokens.insert(legacy.to_owned(), 1);
        tokens.insert(token_digest("new"), 2);
        assert_eq!(find(&tokens, "abc"), Some((&legacy.to_owned(), &1)));
        assert_eq!(find(&tokens, "new").map(|(_, v)| *v), Some(2));
        assert_eq!(find(&tokens, "other"), None);
    }

    #[test]
    fn tokens_are_url_safe_and_256_bits() {
        let t = new_token();
        assert_eq!(t.expose().len(), 43);
        assert!(t
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(new_token(), t);
    }

    #[test]
    fn the_oldest_tokens_of_that_user_only_make_room_under_the_cap() {
        use crate::store::state::TokenRecord;
        let mut state = crate::store::state::test_state(false);
        // One expiry (issued in the same second), told apart by the issue time.
        for (digest, username, issued_ms) in [
            ("a1", "a", 10),
            ("a2", "a", 30),
            ("a3", "a", 20),
            ("b1", "b", 1),
        ] {
            let username = username.to_owned();
            let token = TokenRecord {
                username,
                expires_at: 99,
                issued_ms,
            };
            state.tokens.insert(digest.into(), token);
        }
        assert!(oldest_over_cap(&state, "a", 4).is_empty());
        assert_eq!(oldest_over_cap(&state, "a", 3), vec!["a1".to_string()]);
        let mut two = oldest_over_cap(&state, "a", 2);
        two.sort();
        assert_eq!(two, vec!["a1".to_string(), "a3".to_string()]);
    }
}
