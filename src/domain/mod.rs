//! Rules and services: what the emulated product does, independent of HTTP.
//! Services talk to the store and the hasher; they never see a request.
//!
//! Services: [`users`] (user records, login, On-Premises tokens), [`numbers`]
//! (the WABA's phone numbers), [`two_step`] (a number's PIN), [`registration`]
//! (register and deregister, the PIN guard and its budgets), [`cloud_tokens`]
//! (Cloud API access tokens), [`manager`] (WhatsApp Manager: Change PIN, Turn
//! off by emailed link, the outbox) and [`control`] (the sandbox's state overview and
//! reset). Rules: [`password`], [`pin`], `numbers::PhoneNumberId`,
//! `cloud_tokens::CloudToken`. Supporting pieces: [`seed`] (the state a fresh or
//! reset server starts from), [`hasher`] (the bounded argon2id pool), [`limiter`]
//! (counters and budgets, per server or shared) and [`shared`] (catching up with
//! other servers sharing the state). No service knows which API flavor asked:
//! each edge names the number it means.

pub mod cloud_tokens;
pub mod control;
pub mod hasher;
pub mod limiter;
pub mod manager;
pub mod numbers;
pub mod password;
pub mod pin;
pub mod registration;
pub mod seed;
pub mod shared;
pub mod two_step;
pub mod users;

use crate::store::CommitError;

/// Infrastructure failures any service can hit; the edge maps them to 503 or 500.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The argon2 queue is full (503 / 1016).
    #[error("argon2 queue is full")]
    Overloaded,
    /// The state could not be written; nothing changed (500 / 1014).
    #[error("state write failed: {0}")]
    Storage(std::io::Error),
    /// argon2 failed unexpectedly (500 / 1014).
    #[error("hashing failed: {0}")]
    Hashing(String),
    /// The shared state's database cannot be reached; nothing changed (503 / 1016).
    /// The reason names the database, never its password.
    #[error("state backend unreachable: {0}")]
    StateUnreachable(String),
}

impl Unavailable {
    /// Whether a retry may succeed as things are (a full queue, an unreachable
    /// database: 503), rather than the server having failed (500).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Unavailable::Overloaded | Unavailable::StateUnreachable(_)
        )
    }
}

impl From<hasher::HashError> for Unavailable {
    fn from(e: hasher::HashError) -> Self {
        match e {
            hasher::HashError::Overloaded => Unavailable::Overloaded,
            hasher::HashError::Internal(m) => Unavailable::Hashing(m),
        }
    }
}

/// Turns a commit failure into the service's own error type.
pub(crate) fn flatten<E: From<Unavailable>>(e: CommitError<E>) -> E {
    match e {
        CommitError::Rejected(e) => e,
        CommitError::Io(io) => E::from(Unavailable::Storage(io)),
        CommitError::Unreachable(why) => E::from(Unavailable::StateUnreachable(why)),
    }
}
