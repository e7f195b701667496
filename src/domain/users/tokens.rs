//! Bearer tokens: 256 random bits, URL-safe base64. Only a token's SHA-256
//! digest is kept, in memory and on disk, so a leaked state file holds no usable token.

use base64::Engine;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// Hex SHA-256 of a token: the key under which the token is stored.
pub fn token_digest(token: &str) -> String {
    let mut buf = [0u8; 64];
    hex_digest(token, &mut buf).to_owned()
}

/// Writes the hex SHA-256 of `token` into `buf`: the per-request token check needs
/// no allocation.
pub(super) fn hex_digest<'b>(token: &str, buf: &'b mut [u8; 64]) -> &'b str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in Sha256::digest(token.as_bytes()).into_iter().enumerate() {
        buf[2 * i] = HEX[usize::from(b >> 4)];
        buf[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    std::str::from_utf8(buf).unwrap_or_default()
}

/// A fresh token from the OS random source.
pub(super) fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
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
}
