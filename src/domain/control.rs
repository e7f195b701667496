//! The sandbox control plane's view of the state and its reset (SPEC §6). The
//! view never carries a hash or a secret.

use std::sync::Arc;

use serde::Serialize;

use super::flatten;
use super::registration::Registration;
use super::users::{AccountError, Accounts};
use crate::api::timestamps::rfc3339_ms;
use crate::store::{now_secs, Op, State, Store};

/// `GET /__sandbox/state`.
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

impl StateView {
    /// The view of `state` now.
    pub fn of(state: &State) -> StateView {
        let now = now_secs();
        StateView {
            two_step: TwoStepView {
                enabled: state.two_step.enabled,
                updated_at: state.two_step.updated_at_ms.map(rfc3339_ms),
            },
            users: state
                .users
                .iter()
                .map(|(name, u)| UserView {
                    username: name.clone(),
                    roles: u.role.as_str(),
                    password_change_required: u.password_change_required,
                })
                .collect(),
            tokens: state.tokens.values().filter(|t| t.expires_at > now).count(),
            account: AccountView {
                registered: state.account.registered,
            },
        }
    }
}

/// The control-plane service.
#[derive(Debug)]
pub struct Sandbox {
    /// Durable state.
    store: Arc<Store>,
    /// For the seed state and the login limiter.
    accounts: Arc<Accounts>,
    /// For the PIN-guess limiter.
    registration: Arc<Registration>,
}

impl Sandbox {
    /// Builds the service.
    pub fn new(
        store: Arc<Store>,
        accounts: Arc<Accounts>,
        registration: Arc<Registration>,
    ) -> Sandbox {
        Sandbox {
            store,
            accounts,
            registration,
        }
    }

    /// Whether the emulated number is registered.
    pub fn registered(&self) -> bool {
        self.store.read(|s| s.account.registered)
    }

    /// The current state's view.
    pub fn view(&self) -> StateView {
        self.store.read(StateView::of)
    }

    /// Returns to the seed state, durably, and forgets failed-login and PIN-guess counts.
    pub async fn reset(&self) -> Result<StateView, AccountError> {
        let seed = self.accounts.seed_state().await?;
        let view = self
            .store
            .commit(move |tx| {
                let view = StateView::of(&seed);
                tx.push(Op::Replace {
                    state: Box::new(seed),
                });
                Ok::<_, AccountError>(view)
            })
            .await
            .map_err(flatten)?;
        self.accounts.clear_failed_logins();
        self.registration.clear_guesses();
        Ok(view)
    }
}
