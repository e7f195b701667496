//! The one table of Graph and WhatsApp codes the Cloud edge answers with or an
//! injected fault may ask for: each code's default status, title and default
//! `error_data.details` (docs/cloud.md#registration,
//! docs/cloud.md#errors-headers-and-versions). The envelope around them is
//! `envelope`.

/// One row of the code table: default status, `type` and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The status the code is answered with unless a case says otherwise.
    pub status: u16,
    /// The fixed title (`message` is `(#<code>) <title>` for most codes).
    pub title: &'static str,
    /// `error_data.details` when a case gives none.
    pub details: Option<&'static str>,
}

/// The Graph and WhatsApp codes the server emits or a fault may ask for, with
/// titles and statuses from docs/cloud.md#registration and #errors-headers-and-versions.
pub fn table(code: u32) -> Option<Entry> {
    let e = |status, title, details| {
        Some(Entry {
            status,
            title,
            details,
        })
    };
    match code {
        100 => e(400, "Invalid parameter", None),
        104 => e(400, "An access token is required to request this resource.", None),
        190 => e(401, "Invalid OAuth access token - Cannot parse access token", None),
        200 => e(403, "Permissions error", None),
        2500 => e(400, "Unknown path components", None),
        130429 => e(400, "Rate limit hit", None),
        131000 => e(500, "Something went wrong", Some("Something went wrong.")),
        131009 => e(400, "Parameter value is not valid", None),
        131031 => e(400, "Business Account locked", None),
        133000 => e(500, "Incomplete Deregistration", None),
        133004 => e(503, "Server Temporarily Unavailable", Some("Server is temporarily unavailable.")),
        133005 => e(400, "Two step verification PIN Mismatch", Some("Two-step verification PIN incorrect.")),
        133006 => e(400, "Phone number re-verification needed", Some("Phone number needs to be verified before registering.")),
        133008 => e(400, "Too Many two step verification PIN Guesses", Some("Too many two-step verification PIN guesses for this phone number.")),
        133009 => e(400, "Two step verification PIN Guessed Too Fast", Some("Two-step verification PIN was entered too quickly.")),
        133010 => e(400, "The account is not registered", Some("Phone number not registered on the WhatsApp Business Platform.")),
        133016 => e(400, "Account register deregister rate limit exceeded", Some("Registration or Deregistration failed because there were too many attempts for this phone number in a short period of time")),
        _ => None,
    }
}

/// The code an injected fault that names only `status` gets.
pub fn code_for_status(status: u16) -> u32 {
    match status {
        401 => 190,
        403 => 200,
        429 => 130429,
        503 => 133004,
        400..=499 => 100,
        _ => 131000,
    }
}

/// The status of `code` (500 for a code outside the table).
pub fn status_for_code(code: u32) -> u16 {
    table(code).map_or(500, |e| e.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_default_from_each_other() {
        for code in [
            100, 104, 190, 200, 2500, 131000, 133004, 133005, 133008, 133016,
        ] {
            let entry = table(code).expect("in the table");
            assert!(!entry.title.is_empty(), "{code}");
            assert_eq!(status_for_code(code), entry.status, "{code}");
        }
        assert_eq!(status_for_code(7), 500);
        assert_eq!(code_for_status(503), 133004);
        assert_eq!(code_for_status(404), 100);
        assert_eq!(code_for_status(502), 131000);
        assert_eq!(status_for_code(code_for_status(403)), 403);
    }
}
