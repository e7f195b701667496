//! One integration-test binary (fast to link): every module is a group of
//! black-box tests against the real binary over TCP.

mod config;
mod crash;
mod embed;
mod health;
mod helpers;
mod hostile;
mod limits;
mod login;
mod persistence;
mod registration;
mod sandbox;
mod secrets;
mod seed;
mod two_step;
mod users;
mod wire;
