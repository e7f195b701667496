//! What must hold under stress: crashes, disk faults, hostile input, overload, slow clients, secrets and durable state.

mod crash;
mod disk_faults;
mod hostile;
mod overload;
mod persistence;
mod secrets;
mod slow_clients;
mod state_file;
