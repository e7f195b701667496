//! The seed file's Cloud part: `[[numbers]]` (more numbers of the WABA, each with
//! its own status and PIN) and `[[cloud_tokens]]` (access tokens with scopes).
//! Checked with the API's own rules (`PhoneNumberId`, `Pin`, `CloudToken`,
//! `Scope`); errors name the key, never a PIN or token.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::file::SecretText;
use super::{Seed, SeedNumber};
use crate::domain::cloud_tokens::{normalized, CloudToken, Scope};
use crate::domain::numbers::PhoneNumberId;
use crate::domain::pin::Pin;

/// One `[[numbers]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NumberEntry {
    /// Phone-number ID, 1 to 32 digits.
    id: String,
    /// The number as people read it.
    display_phone_number: String,
    /// Default: `account.vname`.
    verified_name: Option<String>,
    /// Default: true.
    registered: Option<bool>,
    /// Absent: two-step disabled.
    pin: Option<SecretText>,
}

/// One `[[cloud_tokens]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenEntry {
    /// The token itself (only its digest is kept).
    token: SecretText,
    /// Default: both scopes.
    scopes: Option<Vec<String>>,
}

/// Longest display number and verified name taken (they are echoed on the wire).
const MAX_TEXT: usize = 256;

fn text(key: String, value: &str) -> Result<String, String> {
    let ok = !value.trim().is_empty() && value.chars().count() <= MAX_TEXT;
    let ok = ok && !value.chars().any(char::is_control);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{key}: must be 1 to {MAX_TEXT} characters without control characters"
        ))
    }
}

impl Seed {
    /// Adds the file's numbers and Cloud tokens to this seed.
    pub(super) fn overlay_cloud(
        &mut self,
        numbers: Vec<NumberEntry>,
        tokens: Vec<TokenEntry>,
    ) -> Result<(), String> {
        let mut ids: BTreeSet<String> = BTreeSet::new();
        ids.insert(self.first.id.as_str().to_owned());
        for (i, entry) in numbers.into_iter().enumerate() {
            let key = |k: &str| format!("numbers[{i}].{k}");
            let id = PhoneNumberId::parse(&entry.id)
                .map_err(|e| format!("{} {:?}: {e}", key("id"), entry.id))?;
            if id.as_str() == self.waba_id {
                return Err(format!("{}: {:?} is cloud.waba_id", key("id"), entry.id));
            }
            if !ids.insert(id.as_str().to_owned()) {
                return Err(format!(
                    "{}: {:?} is declared twice (the first number is cloud.phone_number_id)",
                    key("id"),
                    entry.id
                ));
            }
            let pin = match entry.pin {
                Some(SecretText(pin)) => {
                    Some(Pin::parse(pin.expose()).map_err(|e| format!("{}: {e}", key("pin")))?)
                }
                None => None,
            };
            let verified_name = entry.verified_name.as_deref().unwrap_or(&self.vname);
            self.numbers.push(SeedNumber {
                id,
                display_phone_number: text(
                    key("display_phone_number"),
                    &entry.display_phone_number,
                )?,
                verified_name: text(key("verified_name"), verified_name)?,
                registered: entry.registered.unwrap_or(true),
                pin,
            });
        }
        let mut digests = BTreeSet::new();
        for (i, entry) in tokens.into_iter().enumerate() {
            let token = CloudToken::parse(entry.token.0.expose())
                .map_err(|why| format!("cloud_tokens[{i}].token: {why}"))?;
            if !digests.insert(token.digest()) {
                return Err(format!("cloud_tokens[{i}].token: declared twice"));
            }
            let scopes = match entry.scopes {
                None => Scope::ALL.to_vec(),
                Some(names) => {
                    let mut scopes = Vec::new();
                    for name in &names {
                        scopes.push(Scope::parse(name).ok_or_else(|| {
                            format!(
                                "cloud_tokens[{i}].scopes: unknown scope {name:?} (known: whatsapp_business_management, whatsapp_business_messaging)"
                            )
                        })?);
                    }
                    scopes
                }
            };
            self.cloud_tokens.push((token, normalized(scopes)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::*;
    use crate::config::Settings;

    fn overlay(text: &str) -> Result<Seed, String> {
        Seed::from_settings(&Settings::default()).overlay(text, Format::Toml)
    }

    const TOKEN: &str = "EAAseedtoken0123456789abcdefghijklmnop";

    #[test]
    fn numbers_and_tokens_are_added_after_the_first_number() {
        let seed = overlay(&format!(
            r#"
            [[numbers]]
            id = "200"
            display_phone_number = "+1 555-0101"
            registered = false
            pin = "111111"
            [[numbers]]
            id = "201"
            display_phone_number = "+1 555-0102"
            verified_name = "Other"
            [[cloud_tokens]]
            token = "{TOKEN}"
            scopes = ["whatsapp_business_messaging"]
            "#
        ))
        .unwrap();
        let numbers: Vec<_> = seed.numbers().collect();
        assert_eq!(numbers.len(), 3);
        assert_eq!(numbers[0].id.as_str(), "106540352242922");
        assert_eq!(numbers[0].display_phone_number, "+1 5550100");
        assert_eq!(
            (numbers[1].registered, numbers[1].pin.is_some()),
            (false, true)
        );
        assert_eq!(numbers[1].verified_name, "Sandbox Business");
        assert_eq!(
            (numbers[2].verified_name.as_str(), numbers[2].registered),
            ("Other", true)
        );
        assert_eq!(seed.cloud_token_count(), 1);
        assert_eq!(seed.cloud_tokens[0].1, vec![Scope::Messaging]);
    }

    #[test]
    fn bad_entries_are_named_by_key_without_their_secret() {
        let number = |body: &str| overlay(&format!("[[numbers]]\n{body}\n")).unwrap_err();
        let e = number("id = \"12a\"\ndisplay_phone_number = \"+1\"");
        assert!(e.starts_with("numbers[0].id \"12a\": "), "{e}");
        let e = number("id = \"106540352242922\"\ndisplay_phone_number = \"+1\"");
        assert!(e.contains("declared twice"), "{e}");
        let e = number("id = \"102290129340398\"\ndisplay_phone_number = \"+1\"");
        assert!(e.contains("cloud.waba_id"), "{e}");
        let e = number("id = \"5\"\ndisplay_phone_number = \"\"");
        assert!(e.starts_with("numbers[0].display_phone_number: "), "{e}");
        let e = number("id = \"5\"\ndisplay_phone_number = \"+1\"\npin = \"98765\"");
        assert_eq!(e, "numbers[0].pin: Pin must be a 6-digit number");
        let e = number("id = \"5\"\ndisplay_phone_number = \"+1\"\nstatus = \"x\"");
        assert!(e.contains("unknown field `status`"), "{e}");
        let e = overlay("[[cloud_tokens]]\ntoken = \"EAAtooshort\"\n").unwrap_err();
        assert!(e.starts_with("cloud_tokens[0].token: must be EAA"), "{e}");
        assert!(!e.contains("EAAtooshort"), "{e}");
        let e = overlay(&format!(
            "[[cloud_tokens]]\ntoken = \"{TOKEN}\"\nscopes = [\"ads\"]\n"
        ))
        .unwrap_err();
        assert!(e.contains("unknown scope \"ads\""), "{e}");
        let twice = format!("[[cloud_tokens]]\ntoken = \"{TOKEN}\"\n");
        let e = overlay(&format!("{twice}{twice}")).unwrap_err();
        assert!(
            e.starts_with("cloud_tokens[1].token: declared twice"),
            "{e}"
        );
        assert!(!e.contains(TOKEN), "{e}");
    }
}
