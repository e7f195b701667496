//! Hostile input: arbitrary methods, paths, headers and bodies never crash the
//! server and always get a well-formed answer (SPEC §1): the WhatsApp envelope
//! (JSON with `meta`, and `errors[0]` with a code and its fixed title on errors),
//! the empty-bodied login 401, or a `/__sandbox` JSON body; no 5xx but 503 / 1016.
//!
//! Structured cases run in-process through the full router (`App::router` and
//! `oneshot`, every layer included), on a fresh ephemeral server per case so a
//! failing case replays and shrinks. Lying framing headers (`Content-Length`,
//! `Transfer-Encoding`) need real sockets: those cases go to a spawned binary.

mod check;
mod in_process;
mod over_tcp;
mod strategy;
