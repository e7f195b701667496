//! The control plane's service (docs/behaviour.md#control-plane): a summary of the state for
//! `GET /__sandbox/state`, and the reset, in one place. A reset returns the
//! durable state to the seed, forgets the failed-login, PIN-guess and
//! register/deregister counts, and
//! empties the control plane's own registries (injected faults, and the journal
//! when asked) through [`ResetHook`]s. Nothing here is HTTP: the edge renders
//! [`Overview`] as JSON.

use std::fmt;
use std::sync::Arc;

use super::cloud_tokens::CloudTokens;
use super::numbers::Number;
use super::registration::{Budget, Registration};
use super::users::{Role, UserError, Users};
use super::{flatten, Unavailable};
use crate::clock::now_secs;
use crate::store::{Op, State, Store};

/// The state as the control plane shows it: no hash, no secret. The top-level
/// two-step and registration fields describe the first number.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Two-step verification is on (first number).
    pub two_step_enabled: bool,
    /// Last two-step change, Unix milliseconds; `None` before the first change.
    pub two_step_updated_at_ms: Option<i64>,
    /// Every user, by name.
    pub users: Vec<UserSummary>,
    /// Live (unexpired) tokens.
    pub live_tokens: usize,
    /// The first number is registered.
    pub registered: bool,
    /// Every number, the first one first, with its budgets.
    pub numbers: Vec<NumberSummary>,
    /// Cloud access tokens that authenticate now.
    pub live_cloud_tokens: usize,
}

/// One number in an [`Overview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberSummary {
    /// The number.
    pub number: Number,
    /// Its wrong-PIN budget this hour.
    pub pin_guesses: Budget,
    /// Its register/deregister budget in the moving 72 hours.
    pub registrations: Budget,
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
    /// The overview of `state` now (budgets and Cloud tokens filled in by [`Control`]).
    fn of(state: &State) -> Overview {
        let now = now_secs();
        let first = state.first_number();
        Overview {
            two_step_enabled: first.two_step.enabled,
            two_step_updated_at_ms: first.two_step.updated_at_ms,
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
            registered: first.registered,
            numbers: Vec::new(),
            live_cloud_tokens: 0,
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
    /// For the PIN-guess and registration budgets.
    registration: Arc<Registration>,
    /// For the live Cloud tokens.
    cloud_tokens: Arc<CloudTokens>,
    /// Registries a reset also empties.
    hooks: Vec<Arc<dyn ResetHook>>,
}

impl Control {
    /// Builds the service; add the edge's registries with [`Control::on_reset`].
    pub fn new(
        store: Arc<Store>,
        users: Arc<Users>,
        registration: Arc<Registration>,
        cloud_tokens: Arc<CloudTokens>,
    ) -> Control {
        Control {
            store,
            users,
            registration,
            cloud_tokens,
            hooks: Vec::new(),
        }
    }

    /// `overview` with what the state alone does not hold: budgets and Cloud tokens.
    async fn complete(
        &self,
        mut overview: Overview,
        numbers: Vec<Number>,
    ) -> Result<Overview, Unavailable> {
        let mut summaries = Vec::with_capacity(numbers.len());
        for number in numbers {
            summaries.push(NumberSummary {
                pin_guesses: self.registration.guess_budget(number.id.as_str()).await?,
                registrations: self
                    .registration
                    .registration_budget(number.id.as_str())
                    .await?,
                number,
            });
        }
        overview.numbers = summaries;
        overview.live_cloud_tokens = self.cloud_tokens.live();
        Ok(overview)
    }

    /// Has every later reset also call `hook`.
    pub fn on_reset(mut self, hook: Arc<dyn ResetHook>) -> Control {
        self.hooks.push(hook);
        self
    }

    /// The current state's overview.
    pub async fn overview(&self) -> Result<Overview, Unavailable> {
        let (overview, numbers) = self
            .store
            .read(|s| (Overview::of(s), s.numbers.iter().map(Number::of).collect()));
        self.complete(overview, numbers).await
    }

    /// Returns to the seed state, durably; then forgets failed-login, PIN-guess
    /// and registration counts and empties the registries. On a failed write
    /// nothing is forgotten.
    pub async fn reset(&self, options: ResetOptions) -> Result<Overview, UserError> {
        let seed = self.users.seed_state().await?;
        let (overview, numbers) = self
            .store
            .commit(move |tx| {
                let overview = Overview::of(&seed);
                let numbers: Vec<Number> = seed.numbers.iter().map(Number::of).collect();
                tx.push(Op::Replace {
                    state: Box::new(seed),
                });
                Ok::<_, UserError>((overview, numbers))
            })
            .await
            .map_err(flatten)?;
        // The state is reset already; a database lost in between leaves counts
        // behind, which the next reset clears: said in the log, not an error.
        for cleared in [
            self.users.clear_failed_logins().await,
            self.registration.clear_budgets().await,
        ] {
            if let Err(e) = cleared {
                tracing::warn!(error = %e, "reset: counts not cleared");
            }
        }
        for hook in &self.hooks {
            hook.reset(options);
        }
        Ok(self.complete(overview, numbers).await?)
    }
}
