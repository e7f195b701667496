//! Wire conventions every `/v1` response follows: the envelope and `meta`, 404/405, `X-Request-ID`, body limits and decoding, chunked bodies, the empty-success forms.

mod bodies;
mod body_limits;
mod chunked;
mod empty_success;
mod envelope;
mod request_id;
mod routing;
