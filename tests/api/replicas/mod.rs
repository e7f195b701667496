//! Several servers, one state in a real PostgreSQL (`support::postgres`): what
//! one server acknowledges holds at once on the other (`one_state`).

mod one_state;
