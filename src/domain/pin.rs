//! The two-step PIN rule (docs/behaviour.md#the-pin-rule). `Pin` can only be built by parsing, so a
//! value of this type is always six ASCII digits. Its `Debug` is redacted.

use serde_json::Value;

use crate::secret::Secret;

/// A valid two-step PIN: exactly six ASCII digits.
#[derive(Clone)]
pub struct Pin(Secret);

/// Why a `pin` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Falsy in PHP terms; the real webapp checked this first.
    #[error("Pin must not be empty")]
    Empty,
    /// Anything else that is not six digits.
    #[error("Pin must be a 6-digit number")]
    Format,
}

impl Pin {
    /// Parses a JSON `pin` value.
    ///
    /// The real webapp rejected values PHP considers falsy (`""`, `"0"`, `0`, `0.0`,
    /// `null`, `false`, `[]`; `{}` decodes to an empty array there) with "Pin must not
    /// be empty" and passed everything else, with its JSON type, to the core app
    /// (docs/on-premises.md#what-the-web-container-does). The official Node SDK sends the PIN as a number (docs/on-premises.md#what-no-source-says), so a
    /// six-digit integer is accepted as well as a six-digit string.
    pub fn from_json(value: &Value) -> Result<Pin, PinError> {
        if is_php_falsy(value) {
            return Err(PinError::Empty);
        }
        match value {
            Value::String(s) => Pin::parse(s),
            Value::Number(n) => match n.as_u64() {
                Some(v @ 100_000..=999_999) => Ok(Pin(Secret::new(v.to_string()))),
                _ => Err(PinError::Format),
            },
            _ => Err(PinError::Format),
        }
    }

    /// Parses a PIN given as text (a JSON string or a form field).
    pub fn parse(s: &str) -> Result<Pin, PinError> {
        if s.is_empty() || s == "0" {
            return Err(PinError::Empty);
        }
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(Secret::new(s)))
        } else {
            Err(PinError::Format)
        }
    }

    /// The digits, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(******)")
    }
}

/// PHP's `empty()`/falsy judgement as applied to a decoded JSON value.
fn is_php_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn falsy_values_are_empty() {
        for v in [
            json!(""),
            json!("0"),
            json!(0),
            json!(0.0),
            json!(-0.0),
            json!(null),
            json!(false),
            json!([]),
            json!({}),
        ] {
            assert_eq!(Pin::from_json(&v).unwrap_err(), PinError::Empty, "{v}");
        }
    }

    #[test]
    fn six_digit_strings_and_integers_are_accepted() {
        assert_eq!(Pin::from_json(&json!("012345")).unwrap().expose(), "012345");
        assert_eq!(Pin::from_json(&json!(123456)).unwrap().expose(), "123456");
        assert_eq!(Pin::from_json(&json!(999999)).unwrap().expose(), "999999");
    }

    #[test]
    fn everything_else_is_a_format_error() {
        for v in [
            json!("12345"),
            json!("1234567"),
            json!("12a456"),
            json!(" 12345"),
            json!("١٢٣٤٥٦"),
            json!(12345),
            json!(1000000),
            json!(123456.0),
            json!(1e5),
            json!(-123456),
            json!([1]),
            json!({"a": 1}),
            json!(true),
            json!("0.0"),
            json!("00"),
        ] {
            assert_eq!(Pin::from_json(&v).unwrap_err(), PinError::Format, "{v}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let pin = Pin::parse("123456").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(******)");
    }

    proptest! {
        #[test]
        fn any_six_ascii_digits_parse_back_unchanged(s in "[0-9]{6}") {
            let pin = Pin::parse(&s).unwrap();
            prop_assert_eq!(pin.expose(), s.as_str());
        }

        #[test]
        fn strings_accepted_are_exactly_six_ascii_digits(s in "\\PC{0,10}") {
            let ok = s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(Pin::parse(&s).is_ok(), ok);
        }

        #[test]
        fn integers_accepted_are_exactly_100000_to_999999(n in any::<i64>()) {
            let ok = (100_000..=999_999).contains(&n);
            prop_assert_eq!(Pin::from_json(&json!(n)).is_ok(), ok);
        }
    }
}
