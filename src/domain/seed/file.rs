//! The seed file (`state.seed`, `--seed FILE`): its TOML or JSON shape, and how
//! it is laid over the settings' seed. Values are checked with the API's own rules
//! (`Username`, `Password`, `Pin`); errors name the key or position, never the
//! value, since the value may be a password or PIN.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::Seed;
use crate::domain::password::{Password, Username};
use crate::domain::pin::Pin;
use crate::secret::Secret;

/// The seed file's shape. Every section and key is optional; unknown ones are errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    /// `[admin]`
    #[serde(default)]
    admin: AdminEntry,
    /// `[[users]]`
    #[serde(default)]
    users: Vec<UserEntry>,
    /// `[two_step]`
    #[serde(default)]
    two_step: TwoStepEntry,
    /// `[account]`
    #[serde(default)]
    account: AccountEntry,
    /// `[[numbers]]`: more numbers of the WABA.
    #[serde(default)]
    numbers: Vec<super::cloud::NumberEntry>,
    /// `[[cloud_tokens]]`: Cloud access tokens.
    #[serde(default)]
    cloud_tokens: Vec<super::cloud::TokenEntry>,
}

/// `[admin]`
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminEntry {
    /// Overrides `auth.admin_password`.
    password: Option<SecretText>,
    /// Overrides `auth.force_password_change`.
    must_change_password: Option<bool>,
}

/// One `[[users]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    /// Username.
    username: String,
    /// Password.
    password: SecretText,
}

/// `[two_step]`
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TwoStepEntry {
    /// Absent: two-step disabled.
    pin: Option<SecretText>,
}

/// `[account]`
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    /// Overrides `account.registered`.
    registered: Option<bool>,
}

/// A string holding a secret. Unlike `String`, a value of the wrong type is refused
/// without quoting it (serde's default message would print `integer 123456`).
pub(super) struct SecretText(pub(super) Secret);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = SecretText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretText, E> {
                Ok(SecretText(Secret::new(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretText, E> {
                Err(E::custom("expected a string (value not shown)"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretText, E> {
                Err(E::custom("expected a string (value not shown)"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretText, E> {
                Err(E::custom("expected a string (value not shown)"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretText, E> {
                Err(E::custom("expected a string (value not shown)"))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// How a seed file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON (a file name ending in `.json`).
    Json,
}

impl Format {
    /// JSON for `*.json`, TOML otherwise.
    pub fn of(path: &Path) -> Format {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Toml,
        }
    }
}

impl Seed {
    /// This seed with the seed file `text` applied over it. The error names the key
    /// (or position) and the rule, never the value.
    pub fn overlay(mut self, text: &str, format: Format) -> Result<Seed, String> {
        let file = match format {
            Format::Toml => parse_toml(text)?,
            Format::Json => parse_json(text)?,
        };
        if let Some(SecretText(password)) = file.admin.password {
            Password::parse(password.expose()).map_err(|e| format!("admin.password: {e}"))?;
            self.admin_password = password;
        }
        if let Some(must_change) = file.admin.must_change_password {
            self.admin_must_change = must_change;
        }
        let mut seen = BTreeSet::new();
        for (i, user) in file.users.into_iter().enumerate() {
            let name = Username::parse(&user.username)
                .map_err(|e| format!("users[{i}].username {:?}: {e}", user.username))?;
            if name.as_str() == "admin" {
                return Err(format!(
                    "users[{i}].username: \"admin\" is declared in [admin], not in [[users]]"
                ));
            }
            if !seen.insert(name.as_str().to_owned()) {
                return Err(format!(
                    "users[{i}].username: {:?} is declared twice",
                    user.username
                ));
            }
            let password = Password::parse(user.password.0.expose())
                .map_err(|e| format!("users[{i}].password: {e}"))?;
            self.users.push((name, password));
        }
        if let Some(SecretText(pin)) = file.two_step.pin {
            let pin = Pin::parse(pin.expose()).map_err(|e| format!("two_step.pin: {e}"))?;
            self.first.pin = Some(pin);
        }
        if let Some(registered) = file.account.registered {
            self.first.registered = registered;
        }
        self.overlay_cloud(file.numbers, file.cloud_tokens)?;
        Ok(self)
    }
}

/// Parses TOML, reporting syntax errors by line and column only: toml's own message
/// quotes the offending line, which may hold a password.
fn parse_toml(text: &str) -> Result<SeedFile, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        let message = e.message().trim_end().replace('\n', "; ");
        format!("not valid TOML{at}: {message}")
    })?;
    serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| keyed(e.path().to_string(), e.into_inner().message()))
}

/// Parses JSON; serde_json's messages carry a position, not the text.
fn parse_json(text: &str) -> Result<SeedFile, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let file = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            format!("not valid JSON: {inner}")
        } else {
            keyed(path, &inner.to_string())
        }
    })?;
    de.end().map_err(|e| format!("not valid JSON: {e}"))?;
    Ok(file)
}

/// `key: message`, or just the message when the problem is at the top level.
fn keyed(path: String, message: &str) -> String {
    if path == "." || path.is_empty() {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn base() -> Seed {
        Seed::from_settings(&Settings::default())
    }

    fn toml_err(text: &str) -> String {
        base().overlay(text, Format::Toml).unwrap_err()
    }

    #[test]
    fn an_empty_file_keeps_the_settings_seed() {
        let seed = base().overlay("", Format::Toml).unwrap();
        assert_eq!(seed.admin_password().expose(), "secret");
        assert!(seed.admin_must_change_password());
        assert_eq!(seed.usernames().count(), 0);
        assert!(!seed.two_step_enabled());
        assert!(seed.registered());
    }

    #[test]
    fn every_section_overrides_the_settings() {
        let seed = base()
            .overlay(
                r#"
                [admin]
                password = "Sandbox-Pa55!"
                must_change_password = false
                [[users]]
                username = "alice"
                password = "Alice-Pa55!"
                [[users]]
                username = "bob.b"
                password = "Bob-Pa55!x"
                [two_step]
                pin = "012345"
                [account]
                registered = false
                "#,
                Format::Toml,
            )
            .unwrap();
        assert_eq!(seed.admin_password().expose(), "Sandbox-Pa55!");
        assert!(!seed.admin_must_change_password());
        assert_eq!(seed.usernames().collect::<Vec<_>>(), ["alice", "bob.b"]);
        assert!(seed.two_step_enabled());
        assert!(!seed.registered());
    }

    #[test]
    fn json_is_read_the_same_way() {
        let seed = base()
            .overlay(
                r#"{"users": [{"username": "alice", "password": "Alice-Pa55!"}],
                    "two_step": {"pin": "123456"}, "account": {"registered": false}}"#,
                Format::Json,
            )
            .unwrap();
        assert_eq!(seed.usernames().collect::<Vec<_>>(), ["alice"]);
        assert!(seed.two_step_enabled());
        assert!(!seed.registered());
        let err = base()
            .overlay(r#"{"users": [], "extra": 1}"#, Format::Json)
            .unwrap_err();
        assert!(err.contains("unknown field `extra`"), "{err}");
        let err = base().overlay("{\"users\": [", Format::Json).unwrap_err();
        assert!(err.starts_with("not valid JSON"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = toml_err("[admin]\npasword = \"Sandbox-Pa55!\"\n");
        assert!(
            err.starts_with("admin.pasword: unknown field `pasword`"),
            "{err}"
        );
        let err = toml_err("[twostep]\npin = \"123456\"\n");
        assert!(err.contains("unknown field `twostep`"), "{err}");
        let err = toml_err(
            "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\nrole = \"admin\"\n",
        );
        assert!(
            err.starts_with("users[0].role: unknown field `role`"),
            "{err}"
        );
    }

    #[test]
    fn rule_breaking_values_are_named_by_key() {
        let err = toml_err("[[users]]\nusername = \"al\"\npassword = \"Alice-Pa55!\"\n");
        assert!(
            err.starts_with("users[0].username \"al\": Username must be"),
            "{err}"
        );
        let err = toml_err("[[users]]\nusername = \"alice\"\npassword = \"weakling\"\n");
        assert!(
            err.starts_with("users[0].password: Password doesn't meet"),
            "{err}"
        );
        let err = toml_err("[admin]\npassword = \"secret\"\n");
        assert!(
            err.starts_with("admin.password: Password doesn't meet"),
            "{err}"
        );
        let err = toml_err("[two_step]\npin = \"12345\"\n");
        assert_eq!(err, "two_step.pin: Pin must be a 6-digit number");
        let err = toml_err("[two_step]\npin = \"\"\n");
        assert_eq!(err, "two_step.pin: Pin must not be empty");
        let two = "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\n";
        let err = toml_err(&format!("{two}{two}"));
        assert!(
            err.starts_with("users[1].username: \"alice\" is declared twice"),
            "{err}"
        );
        let err = toml_err("[[users]]\nusername = \"admin\"\npassword = \"Alice-Pa55!\"\n");
        assert!(err.contains("[admin]"), "{err}");
    }

    #[test]
    fn errors_never_quote_a_secret() {
        for text in [
            "[two_step]\npin = 987654\n",
            "[admin]\npassword = 987654\n",
            "[two_step]\npin = \"987654\n",
            "[admin]\npassword = \"Hunter-987654\" junk\n",
        ] {
            let err = toml_err(text);
            assert!(!err.contains("987654"), "{text:?} gave {err}");
        }
        let err = base()
            .overlay(r#"{"two_step": {"pin": 987654}}"#, Format::Json)
            .unwrap_err();
        assert!(err.starts_with("two_step.pin: expected a string"), "{err}");
        assert!(!err.contains("987654"), "{err}");
    }

    #[test]
    fn toml_syntax_errors_give_a_position() {
        let err = toml_err("[admin]\npassword = \"Sandbox-Pa55!\" junk\n");
        assert!(err.starts_with("not valid TOML at line 2, column"), "{err}");
    }

    #[test]
    fn the_format_follows_the_extension() {
        assert_eq!(Format::of(Path::new("seed.json")), Format::Json);
        assert_eq!(Format::of(Path::new("seed.JSON")), Format::Json);
        assert_eq!(Format::of(Path::new("seed.toml")), Format::Toml);
        assert_eq!(Format::of(Path::new("seed")), Format::Toml);
    }
}
