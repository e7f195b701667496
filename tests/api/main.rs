//! One integration-test binary (fast to link): every module is a group of
//! black-box tests against the real binary over TCP.

mod config;
mod crash;
mod health;
mod helpers;
mod hostile;
mod limits;
mod login;
mod persistence;
mod sandbox;
mod secrets;
mod two_step;
mod users;
mod wire;
