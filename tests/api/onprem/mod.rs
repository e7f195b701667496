//! The On-Premises `/v1` API: login, users, two-step, registration, health, and the wire conventions every response follows.

mod health;
mod login;
mod login_limiter;
mod registration;
mod two_step;
mod two_step_validation;
mod user_changes;
mod users;
mod wire;
