//! The crash test's clients and what they know: each sends changes one after
//! another and records, per value, the last acknowledged outcome and the one in
//! flight ([`Tracked`], [`Model`]), so the check after a restart knows what may
//! and what must be there.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

/// Bound on the requests one client sends in one cycle (it stops at the kill anyway).
const MAX_OPS_PER_CLIENT: u32 = 10_000;
/// The seed's second number, which the Cloud client changes.
pub(super) const CLOUD_NUMBER: &str = "106540352242999";
/// Its PIN in the seed.
pub(super) const CLOUD_SEED_PIN: &str = "111111";

/// What the clients know about one value: the outcome of the last acknowledged
/// change, and the outcome of a change sent but not answered (in flight at the kill).
#[derive(Debug, Clone)]
pub(super) struct Tracked<T> {
    pub(super) acked: T,
    pub(super) pending: Option<T>,
}

impl<T: Clone + PartialEq + std::fmt::Debug> Tracked<T> {
    pub(super) fn new(value: T) -> Self {
        Tracked {
            acked: value,
            pending: None,
        }
    }
    /// Whether `actual` is an allowed outcome after a crash.
    pub(super) fn allows(&self, actual: &T) -> bool {
        *actual == self.acked || self.pending.as_ref() == Some(actual)
    }
    /// The crash outcome is now known: it becomes the acknowledged value.
    pub(super) fn resolve(&mut self, actual: T) {
        self.acked = actual;
        self.pending = None;
    }
}

/// The clients' view of the state, updated as requests are sent and acknowledged.
#[derive(Debug)]
pub(super) struct Model {
    /// The admin password.
    pub(super) password: Tracked<String>,
    /// Two-step enabled.
    pub(super) two_step: Tracked<bool>,
    /// The Cloud number's PIN.
    pub(super) cloud_pin: Tracked<String>,
    /// The Cloud number is registered.
    pub(super) cloud_registered: Tracked<bool>,
    /// Every user ever sent: does it exist?
    pub(super) users: BTreeMap<String, Tracked<bool>>,
    /// Users touched since the last restart (checked one by one with `GET`).
    pub(super) touched: Vec<String>,
    /// Acknowledged changes since the last restart.
    pub(super) acked: u64,
    /// Changes found in flight at a kill (each resolved to what happened).
    pub(super) in_flight: u64,
}

pub(super) type Shared = Arc<Mutex<Model>>;

/// Sends a change: marks it pending, then acknowledged on a 2xx. Returns `false`
/// when the request failed (the server is gone), so the client stops.
/// The lock is a `std` one and is never held across the `.await`.
pub(super) async fn change<T: Clone>(
    model: &Shared,
    req: reqwest::RequestBuilder,
    expected: StatusCode,
    outcome: T,
    slot: impl Fn(&mut Model) -> &mut Tracked<T>,
) -> bool {
    slot(&mut model.lock().unwrap()).pending = Some(outcome.clone());
    let Ok(resp) = req.send().await else {
        return false;
    };
    let status = resp.status();
    if status.is_success() {
        let mut m = model.lock().unwrap();
        let s = slot(&mut m);
        s.acked = outcome;
        s.pending = None;
        m.acked += 1;
    }
    // A definite answer other than the expected one is a bug, not a crash effect.
    assert_eq!(
        status,
        expected,
        "a change was answered {status}: {}",
        resp.text().await.unwrap_or_default()
    );
    true
}

/// Gives a closure the higher-ranked signature `change` needs.
pub(super) fn slot<T, F: Fn(&mut Model) -> &mut Tracked<T>>(f: F) -> F {
    f
}

/// Changes the admin password at login, one change after another.
pub(super) async fn password_client(app: Arc<Remote>, model: Shared, cycle: u32) {
    for i in 0..MAX_OPS_PER_CLIENT {
        let current = model.lock().unwrap().password.acked.clone();
        let next = format!("Crash-{cycle}-{i}-pW9!");
        let req = app
            .request(Method::POST, "/v1/users/login")
            .header("Authorization", basic("admin", &current))
            .json(&json!({"new_password": next}));
        if !change(&model, req, StatusCode::OK, next, |m| &mut m.password).await {
            return;
        }
    }
}

/// Enables (with a PIN) and disables two-step, alternately.
pub(super) async fn two_step_client(app: Arc<Remote>, model: Shared, token: String) {
    for i in 0..MAX_OPS_PER_CLIENT {
        let enable = i % 2 == 0;
        let req = if enable {
            app.request(Method::POST, TWO_STEP)
                .json(&json!({"pin": format!("{:06}", 100_000 + i)}))
        } else {
            app.request(Method::DELETE, TWO_STEP)
        };
        let req = req.bearer_auth(&token);
        if !change(&model, req, StatusCode::OK, enable, |m| &mut m.two_step).await {
            return;
        }
    }
}

/// Through the Cloud API, on the second number: sets its PIN, registers it with
/// that PIN, deregisters it, in turn.
pub(super) async fn cloud_client(app: Arc<Remote>, model: Shared, cycle: u32) {
    let number = graph_path(CLOUD_NUMBER);
    for i in 0..MAX_OPS_PER_CLIENT {
        let done = match i % 3 {
            0 => {
                let pin = format!("{:06}", 200_000 + (cycle * 7919 + i) % 800_000);
                let req = app
                    .request(Method::POST, &number)
                    .json(&json!({"pin": pin}));
                let req = req.bearer_auth(CLOUD_TOKEN);
                change(&model, req, StatusCode::OK, pin, |m| &mut m.cloud_pin).await
            }
            1 => {
                let pin = model.lock().unwrap().cloud_pin.acked.clone();
                let body = json!({"messaging_product": "whatsapp", "pin": pin});
                let req = app.request(Method::POST, &format!("{number}/register"));
                let req = req.bearer_auth(CLOUD_TOKEN).json(&body);
                let slot = slot(|m| &mut m.cloud_registered);
                change(&model, req, StatusCode::OK, true, slot).await
            }
            _ => {
                let req = app.request(Method::POST, &format!("{number}/deregister"));
                let req = req.bearer_auth(CLOUD_TOKEN);
                let slot = slot(|m| &mut m.cloud_registered);
                change(&model, req, StatusCode::OK, false, slot).await
            }
        };
        if !done {
            return;
        }
    }
}

/// Creates users and deletes two out of three right after creating them.
pub(super) async fn user_client(
    app: Arc<Remote>,
    model: Shared,
    token: String,
    cycle: u32,
    id: u32,
) {
    for i in 0..MAX_OPS_PER_CLIENT {
        let name = format!("c{cycle}-u{id}-{i}");
        {
            let mut m = model.lock().unwrap();
            m.users.insert(name.clone(), Tracked::new(false));
            m.touched.push(name.clone());
        }
        let req = app
            .request(Method::POST, "/v1/users")
            .bearer_auth(&token)
            .json(&json!({"username": name, "password": "Crash-User-9!"}));
        let slot = slot(|m| m.users.get_mut(&name).expect("user in model"));
        if !change(&model, req, StatusCode::CREATED, true, slot).await {
            return;
        }
        if i % 3 != 0 {
            let req = app
                .request(Method::DELETE, &format!("/v1/users/{name}"))
                .bearer_auth(&token);
            if !change(&model, req, StatusCode::OK, false, slot).await {
                return;
            }
        }
    }
}
