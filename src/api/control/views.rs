//! The control plane's JSON bodies: the state view (from the domain's
//! [`Overview`], with times as RFC 3339), the journal view and the fault list.
//! The state view never carries a hash or a secret; its top-level `two_step` and
//! `account` describe the first number, `numbers` every number with its budgets.

use serde::Serialize;

use super::faults::Fault;
use super::journal::Entry;
use crate::api::timestamps::rfc3339_ms;
use crate::domain::control::{NumberSummary, Overview};
use crate::domain::registration::Budget;

/// `GET /__sandbox/state` (and the answer to a reset).
#[derive(Debug, Serialize)]
pub struct StateView {
    /// Two-step status.
    pub two_step: TwoStepView,
    /// Every user, without hashes.
    pub users: Vec<UserView>,
    /// Live (unexpired) tokens.
    pub tokens: usize,
    /// Registration of the first number.
    pub account: AccountView,
    /// Every number of the WABA, the first one first.
    pub numbers: Vec<NumberView>,
    /// Cloud access tokens that authenticate now.
    pub cloud_tokens: usize,
}

/// One phone number.
#[derive(Debug, Serialize)]
pub struct NumberView {
    /// Phone-number ID.
    pub id: String,
    /// The number as people read it.
    pub display_phone_number: String,
    /// Verified name.
    pub verified_name: String,
    /// Registered.
    pub registered: bool,
    /// Its two-step status.
    pub two_step: TwoStepView,
    /// Wrong PINs this hour, of `account.max_pin_guesses`.
    pub pin_guesses: BudgetView,
    /// Register and deregister calls in the moving 72 hours, of `cloud.max_registrations`.
    pub registrations: BudgetView,
}

/// A budget: used of limit.
#[derive(Debug, Serialize)]
pub struct BudgetView {
    /// Used in the window.
    pub used: u32,
    /// Allowed per window.
    pub limit: u32,
}

impl From<Budget> for BudgetView {
    fn from(b: Budget) -> BudgetView {
        BudgetView {
            used: b.used,
            limit: b.limit,
        }
    }
}

impl From<NumberSummary> for NumberView {
    fn from(n: NumberSummary) -> NumberView {
        let number = n.number;
        NumberView {
            id: number.id.as_str().to_owned(),
            display_phone_number: number.display_phone_number,
            verified_name: number.verified_name,
            registered: number.registered,
            two_step: TwoStepView {
                enabled: number.two_step_enabled,
                updated_at: number.two_step_updated_at_ms.map(rfc3339_ms),
            },
            pin_guesses: n.pin_guesses.into(),
            registrations: n.registrations.into(),
        }
    }
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
            numbers: o.numbers.into_iter().map(NumberView::from).collect(),
            cloud_tokens: o.live_cloud_tokens,
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
