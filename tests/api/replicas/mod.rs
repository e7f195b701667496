//! Several servers, one state in a real PostgreSQL (`support::postgres`): what
//! one server acknowledges holds at once on the other (`one_state`), concurrent
//! changes through both lose nothing (`concurrency`), the counters are shared
//! (`budgets`), the database's outages (`outage`), start-up against a missing or
//! newer database (`startup`), and servers killed mid-write (`crash`).

mod budgets;
mod concurrency;
mod crash;
mod one_state;
mod outage;
mod startup;
