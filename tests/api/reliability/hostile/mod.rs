//! Hostile input: arbitrary methods, paths, headers and bodies never crash the
//! server and always get a well-formed answer: the WhatsApp envelope
//! (JSON with `meta`, and `errors[0]` with a code and its fixed title on errors),
//! the Graph envelope and headers on Cloud paths (`/v22.0/...`), the empty-bodied
//! login 401, or a `/__sandbox` JSON body; no 5xx but 503 (1016; 133004 on Cloud).
//!
//! `strategy` generates the requests and `check` judges the answers.
//! `in_process` runs structured cases through the full router (`App::router` and
//! `oneshot`, every layer included), on a fresh memory-only server per case so a
//! failing case replays and shrinks. Lying framing headers (`Content-Length`,
//! `Transfer-Encoding`) need real sockets: `over_tcp` sends those to the binary.

mod check;
mod in_process;
mod over_tcp;
mod strategy;
