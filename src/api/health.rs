//! Health: the emulated `GET /v1/health` and the sandbox's own readiness probe (docs/behaviour.md#health).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::HealthCaller;
use super::envelope::Payload;
use super::AppState;

/// `GET /v1/health`: `connected`, or `unregistered` while the number is not registered.
pub async fn health(State(state): State<AppState>, _caller: HealthCaller) -> Payload<Value> {
    let status = if state.registration.is_registered() {
        "connected"
    } else {
        "unregistered"
    };
    Payload(
        StatusCode::OK,
        json!({"health": {"gateway_status": status}}),
    )
}

/// `GET /__sandbox/health`: no auth, never limited; for probes, CI scripts and
/// load balancers. 200 `{"status":"ok"}` only while the server can serve, else
/// 503 `{"status":"unavailable","reason"}` (draining at shutdown, state backend
/// unreachable), so a balancer stops routing here (docs/behaviour.md#health).
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.readiness.check() {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        ),
    }
}
