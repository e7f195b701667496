//! One integration-test binary (fast to link): every module is a group of
//! black-box tests against the real binary over TCP.

mod helpers;
mod two_step;
mod wire;
mod login;
mod users;
mod health;
mod sandbox;
mod persistence;
mod config;
mod limits;
