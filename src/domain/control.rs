//! The control plane's service (docs/behaviour.md#control-plane): a summary of the state for
//! `GET /__sandbox/state`, and the reset, in one place. A reset returns the
//! durable state to the seed, forgets the failed-login and PIN-guess counts, and
//! empties the control plane's own registries (injected faults, and the journal
//! when asked) through [`ResetHook`]s. Nothing here is HTTP: the edge renders
//! [`Overview`] as JSON.

use std::fmt;
use std::sync::Arc;

use super::flatten;
use super::registration::Registration;
use super::users::{Role, UserError, Users};
use crate::clock::now_secs;
use crate::store::{Op, State, Store};

/// The state as the control plane shows it: no hash, no secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Two-step verification is on.
    pub two_step_enabled: bool,
    /// Last two-step change, Unix milliseconds; `None` before the first change.
    pub two_step_updated_at_ms: Option<i64>,
    /// Every user, by name.
    pub users: Vec<UserSummary>,
    /// Live (unexpired) tokens.
    pub live_tokens: usize,
    /// The emulated number is registered.
    pub registered: bool,
}

/// One user in an [`Overview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Must change the password at the next login.
    pub password_change_required: bool,
}

impl Overview {
    /// The overview of `state` now.
    fn of(state: &State) -> Overview {
        let now = now_secs();
        Overview {
            two_step_enabled: state.two_step.enabled,
            two_step_updated_at_ms: state.two_step.updated_at_ms,
            users: state
                .users
                .iter()
                .map(|(name, u)| UserSummary {
                    username: name.clone(),
                    role: u.role,
                    password_change_required: u.password_change_required,
                })
                .collect(),
            live_tokens: state.tokens.values().filter(|t| t.expires_at > now).count(),
            registered: state.account.registered,
        }
    }
}

/// What a reset is asked for besides the return to the seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResetOptions {
    /// Also empty the request journal (`?journal=true`). By default it is kept, so
    /// a test can still inspect what led up to the reset.
    pub clear_journal: bool,
}

/// Control-plane memory outside the domain (injected faults, the request journal)
/// that a reset also empties. Those registries belong to the HTTP edge; it hands
/// them to [`Control`] at start, so a reset stays one call.
pub trait ResetHook: Send + Sync + fmt::Debug {
    /// Empties what `options` says; called once the seed state is durable.
    fn reset(&self, options: ResetOptions);
}

/// The control-plane service.
#[derive(Debug)]
pub struct Control {
    /// Durable state.
    store: Arc<Store>,
    /// For the seed state and the login limiter.
    users: Arc<Users>,
    /// For the PIN-guess limiter.
    registration: Arc<Registration>,
    /// Registries a reset also empties.
    hooks: Vec<Arc<dyn ResetHook>>,
}

impl Control {
    /// Builds the service; add the edge's registries with [`Control::on_reset`].
    pub fn new(store: Arc<Store>, users: Arc<Users>, registration: Arc<Registration>) -> Control {
        Control {
            store,
            users,
            registration,
            hooks: Vec::new(),
        }
    }

    /// Has every later reset also call `hook`.
    pub fn on_reset(mut self, hook: Arc<dyn ResetHook>) -> Control {
        self.hooks.push(hook);
        self
    }

    /// The current state's overview.
    pub fn overview(&self) -> Overview {
        self.store.read(Overview::of)
    }

    /// Returns to the seed state, durably; then forgets failed-login and PIN-guess
    /// counts and empties the registries. On a failed write nothing is forgotten.
    pub async fn reset(&self, options: ResetOptions) -> Result<Overview, UserError> {
        let seed = self.users.seed_state().await?;
        let overview = self
            .store
            .commit(move |tx| {
                let overview = Overview::of(&seed);
                tx.push(Op::Replace {
                    state: Box::new(seed),
                });
                Ok::<_, UserError>(overview)
            })
            .await
            .map_err(flatten)?;
        // The state is reset already; a database lost in between leaves counts
        // behind, which the next reset clears: said in the log, not an error.
        for cleared in [
            self.users.clear_failed_logins().await,
            self.registration.clear_guesses().await,
        ] {
            if let Err(e) = cleared {
                tracing::warn!(error = %e, "reset: counts not cleared");
            }
        }
        for hook in &self.hooks {
            hook.reset(options);
        }
        Ok(overview)
    }
}
