//! `GET /__sandbox/state` as types, for [`Sandbox::state`](super::Sandbox::state)
//! and [`Sandbox::reset`](super::Sandbox::reset). Holds no hash and no secret.

use serde::Deserialize;

/// `GET /__sandbox/state`, typed. Holds no hash and no secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SandboxState {
    /// Two-step verification.
    pub two_step: TwoStepStatus,
    /// Every user, `admin` included, by name.
    pub users: Vec<UserStatus>,
    /// Live tokens.
    pub tokens: usize,
    /// Registration of the emulated (first) number.
    pub account: AccountStatus,
    /// Every number of the WABA, the first one first.
    pub numbers: Vec<NumberStatus>,
    /// Cloud access tokens that authenticate now.
    pub cloud_tokens: usize,
}

/// One phone number in [`SandboxState`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NumberStatus {
    /// Its phone-number ID.
    pub id: String,
    /// The number as people read it.
    pub display_phone_number: String,
    /// Its verified name.
    pub verified_name: String,
    /// Registered.
    pub registered: bool,
    /// Its two-step status.
    pub two_step: TwoStepStatus,
    /// Wrong PINs this hour.
    pub pin_guesses: BudgetStatus,
    /// Register and deregister calls in the moving 72 hours.
    pub registrations: BudgetStatus,
}

/// A budget in [`NumberStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct BudgetStatus {
    /// Used in the window.
    pub used: u32,
    /// Allowed per window.
    pub limit: u32,
}

/// Two-step verification in [`SandboxState`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TwoStepStatus {
    /// A PIN is set.
    pub enabled: bool,
    /// Last change, RFC 3339 UTC; `None` before the first change.
    pub updated_at: Option<String>,
}

/// One user in [`SandboxState`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserStatus {
    /// Name.
    pub username: String,
    /// `ROLE_ADMIN` or `ROLE_USER`.
    pub roles: String,
    /// The user must set a new password at the next login.
    pub password_change_required: bool,
}

/// Registration in [`SandboxState`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountStatus {
    /// The emulated number is registered.
    pub registered: bool,
}

impl SandboxState {
    /// The user called `username`, if there is one.
    pub fn user(&self, username: &str) -> Option<&UserStatus> {
        self.users.iter().find(|u| u.username == username)
    }
}
