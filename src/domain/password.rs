//! Password and username rules (docs/behaviour.md#user-management, docs/on-premises.md#passwords-and-usernames). Parsing is the only way
//! to build a `Password` or `Username`, so holding one means the rule was met.

use crate::secret::Secret;

/// The details the real webapp sent for a password that breaks the rule (docs/on-premises.md#passwords-and-usernames).
pub const PASSWORD_RULE: &str =
    "Password doesn't meet complexity requirements: length between 8 and 64 characters, \
at least 1 each of upper-case character, lower-case character, digit, special character \
(!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~) are required";

/// A password that meets the complexity rule. `Debug` is redacted.
#[derive(Clone, Debug)]
pub struct Password(Secret);

/// The password breaks the complexity rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{PASSWORD_RULE}")]
pub struct WeakPassword;

impl Password {
    /// 8–64 characters from `A–Z a–z 0–9` and ASCII punctuation, with at least one
    /// of each class.
    pub fn parse(s: &str) -> Result<Password, WeakPassword> {
        let len_ok = (8..=64).contains(&s.len());
        let allowed = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation());
        let has = |f: fn(&u8) -> bool| s.bytes().any(|b| f(&b));
        if len_ok
            && allowed
            && has(u8::is_ascii_uppercase)
            && has(u8::is_ascii_lowercase)
            && has(u8::is_ascii_digit)
            && has(u8::is_ascii_punctuation)
        {
            Ok(Password(Secret::new(s)))
        } else {
            Err(WeakPassword)
        }
    }

    /// The password, for hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A valid username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

/// Why a username was refused; the message is the details sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadUsername {
    /// Not 4–32 characters of `A–Z a–z 0–9 . _ -`.
    #[error("Username must be 4 to 32 characters of A-Z a-z 0-9 . _ -")]
    Format,
    /// `_apiuser` is reserved by the real server for the API-key principal.
    #[error("Username is reserved")]
    Reserved,
}

impl Username {
    /// 4–32 characters of `A–Z a–z 0–9 . _ -`: what the real server's "unchanged by
    /// urlencode" rule allows (docs/on-premises.md#passwords-and-usernames).
    pub fn parse(s: &str) -> Result<Username, BadUsername> {
        let ok = (4..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(BadUsername::Format);
        }
        if s == "_apiuser" {
            return Err(BadUsername::Reserved);
        }
        Ok(Username(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_complexity_rule() {
        assert!(Password::parse("Sandbox-Pa55!").is_ok());
        assert!(Password::parse("Aa1!aaaa").is_ok());
        for bad in [
            "Aa1!aaa",
            "aa1!aaaa",
            "AA1!AAAA",
            "Aaa!aaaa",
            "Aa1aaaaa",
            "Aa1! aaaa",
            "Aa1!aaaé",
        ] {
            assert!(Password::parse(bad).is_err(), "{bad}");
        }
        let long = format!("Aa1!{}", "a".repeat(61));
        assert_eq!(long.len(), 65);
        assert!(Password::parse(&long).is_err());
        assert!(Password::parse(&long[..64]).is_ok());
    }

    #[test]
    fn the_username_rule() {
        for good in ["alice", "a.b_c-d", "abcd", &"x".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in ["abc", "al ice", "al/ice", "élise", &"x".repeat(33)] {
            assert_eq!(Username::parse(bad), Err(BadUsername::Format), "{bad}");
        }
        assert_eq!(Username::parse("_apiuser"), Err(BadUsername::Reserved));
    }

    #[test]
    fn debug_hides_the_password() {
        let p = Password::parse("Sandbox-Pa55!").unwrap();
        assert!(!format!("{p:?}").contains("Pa55"));
    }

    proptest! {
        #[test]
        fn accepted_passwords_always_meet_every_clause(s in "[ -~]{0,70}") {
            if Password::parse(&s).is_ok() {
                prop_assert!((8..=64).contains(&s.len()));
                prop_assert!(!s.contains(' '));
                prop_assert!(s.bytes().any(|b| b.is_ascii_uppercase()));
                prop_assert!(s.bytes().any(|b| b.is_ascii_lowercase()));
                prop_assert!(s.bytes().any(|b| b.is_ascii_digit()));
                prop_assert!(s.bytes().any(|b| b.is_ascii_punctuation()));
            }
        }
    }
}
