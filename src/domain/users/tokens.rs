//! Bearer tokens: 256 random bits, URL-safe base64. Only a token's SHA-256
//! digest is kept, in memory and on disk, so a leaked state file holds no usable token.

use base64::Engine;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::store::State;

/// Hex SHA-256 of a token: the key under which the token is stored.
pub fn token_digest(token: &str) -> String {
    let mut buf = [0u8; 64];
    hex_digest(token, &mut buf).to_owned()
}

/// Writes the hex SHA-256 of `token` into `buf`: the per-request token check needs
/// no allocation.
pub(crate) fn hex_digest<'b>(token: &str, buf: &'b mut [u8; 64]) -> &'b str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in Sha256::digest(token.as_bytes()).into_iter().enumerate() {
        buf[2 * i] = HEX[usize::from(b >> 4)];
        buf[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    std::str::from_utf8(buf).unwrap_or_default()
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
    fn token_digests_are_hex_sha256() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
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
