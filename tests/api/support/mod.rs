//! What every test module shares; `use crate::support::*` brings all of it in.

// One test binary holds every module; a helper that some group leaves unused is fine.
#![allow(dead_code)]

pub mod app;
pub mod assert;
pub mod client;
pub mod consts;
pub mod graph;
pub mod inproc;
pub mod manager;
pub mod nginx;
pub mod postgres;
pub mod raw_http;
pub mod smtp;
pub mod webhook;

pub use app::{
    command, count_of, parallel_first_logins, parallel_logins, parallel_statuses, run_in_temp_dir,
    run_to_exit, Spawn, TestApp,
};
pub use assert::*;
pub use client::*;
pub use consts::*;
pub use graph::*;
pub use manager::*;
