//! One integration-test binary (fast to link): every module is a group of
//! black-box tests against the real binary over TCP.

mod config;
mod crash;
mod disk_faults;
mod embed;
mod faults;
mod health;
mod helpers;
mod hostile;
mod journal;
mod limits;
mod login;
mod metrics;
mod newcomer;
mod openapi;
mod persistence;
mod registration;
mod sandbox;
mod secrets;
mod seed;
mod two_step;
mod users;
mod wire;
