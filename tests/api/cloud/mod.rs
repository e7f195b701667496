//! The Cloud (Graph) API flavor: every error row and the check order, the wire
//! (headers, paths, versions, parameters, chunked bodies), the phone-number node,
//! register and deregister with their budgets, and one number shared with `/v1`.

mod check_order;
mod errors;
mod faults;
mod numbers;
mod observability;
mod registration;
mod shared_number;
mod wire;
