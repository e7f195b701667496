//! What must hold under stress: crashes, disk faults, hostile input, overload,
//! slow and non-reading clients, a stuck log, racing requests, secrets, durable
//! state and upgrades from an older state schema.

mod crash;
mod disk_faults;
mod hostile;
mod misbehaving;
mod overload;
mod persistence;
mod secrets;
mod slow_clients;
mod state_file;
mod truthful;
mod upgrade;
