//! The control plane's JSON bodies: the state view (from the domain's
//! [`Overview`], with times as RFC 3339), the journal view and the fault list.
//! The state view never carries a hash or a secret.

use serde::Serialize;

use super::faults::Fault;
use super::journal::Entry;
use crate::api::timestamps::rfc3339_ms;
use crate::domain::control::Overview;

/// `GET /__sandbox/state` (and the answer to a reset).
#[derive(Debug, Serialize)]
pub struct StateView {
    /// Two-step status.
    pub two_step: TwoStepView,
    /// Every user, without hashes.
    pub users: Vec<UserView>,
    /// Live (unexpired) tokens.
    pub tokens: usize,
    /// Registration.
    pub account: AccountView,
}

/// Two-step status.
#[derive(Debug, Serialize)]
pub struct TwoStepView {
    /// Enabled.
    pub enabled: bool,
    /// Last change, RFC 3339 with milliseconds, or null.
    pub updated_at: Option<String>,
}

/// One user.
#[derive(Debug, Serialize)]
pub struct UserView {
    /// Name.
    pub username: String,
    /// `ROLE_ADMIN` or `ROLE_USER`.
    pub roles: &'static str,
    /// Must change the password at the next login.
    pub password_change_required: bool,
}

/// Registration.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Registered.
    pub registered: bool,
}

impl From<Overview> for StateView {
    fn from(o: Overview) -> StateView {
        StateView {
            two_step: TwoStepView {
                enabled: o.two_step_enabled,
                updated_at: o.two_step_updated_at_ms.map(rfc3339_ms),
            },
            users: o
                .users
                .into_iter()
                .map(|u| UserView {
                    username: u.username,
                    roles: u.role.as_str(),
                    password_change_required: u.password_change_required,
                })
                .collect(),
            tokens: o.live_tokens,
            account: AccountView {
                registered: o.registered,
            },
        }
    }
}

/// `GET /__sandbox/requests` body.
#[derive(Debug, Serialize)]
pub struct JournalView {
    /// `control.journal_capacity`.
    pub capacity: usize,
    /// Entries, oldest first.
    pub requests: Vec<Entry>,
}

/// `{"faults": [...]}`
#[derive(Debug, Serialize)]
pub struct FaultList {
    /// Active faults, oldest (first to match) first.
    pub faults: Vec<Fault>,
}
