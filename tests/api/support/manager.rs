//! WhatsApp Manager requests on any server: the JSON actions under
//! `/__sandbox/manager/api/...`, the outbox, and the reset link.

use reqwest::Method;
use serde_json::{json, Value};

use super::assert::expect_status;
use super::client::Server;

/// Details of a 409 for Change PIN or Turn off while two-step is off.
pub const TWO_STEP_OFF: &str = "Two-step verification is off for this number";
/// Details of a 409 for Set PIN while two-step is on.
pub const TWO_STEP_ON: &str = "Two-step verification is already on for this number";
/// Details of a 404 for a used, voided or unknown reset link.
pub const LINK_NOT_VALID: &str =
    "This link is not valid. It may have been used already, or the PIN was changed since.";

/// `/__sandbox/manager/api/numbers/{id}/{action}`.
pub fn manager_action(id: &str, action: &str) -> String {
    format!("/__sandbox/manager/api/numbers/{id}/{action}")
}

/// The path of a reset link (`…/__sandbox/manager/reset/<token>`) turned into its JSON twin.
pub fn reset_api_path(link: &str) -> String {
    let token = link.rsplit('/').next().expect("token in link");
    format!("/__sandbox/manager/api/reset/{token}")
}

/// Manager calls; none sends a control token (tests that set one add it).
#[allow(async_fn_in_trait)]
pub trait Manager: Server {
    /// `POST …/change-pin {"current_pin", "new_pin", "confirm_pin"}`.
    async fn manager_change_pin(
        &self,
        id: &str,
        current: &str,
        new: &str,
        confirm: &str,
    ) -> reqwest::Response {
        let body = json!({"current_pin": current, "new_pin": new, "confirm_pin": confirm});
        self.call(
            Method::POST,
            &manager_action(id, "change-pin"),
            None,
            Some(body),
        )
        .await
    }

    /// `POST …/set-pin {"new_pin", "confirm_pin"}`.
    async fn manager_set_pin(&self, id: &str, new: &str, confirm: &str) -> reqwest::Response {
        let body = json!({"new_pin": new, "confirm_pin": confirm});
        self.call(
            Method::POST,
            &manager_action(id, "set-pin"),
            None,
            Some(body),
        )
        .await
    }

    /// `POST …/turn-off`.
    async fn manager_turn_off(&self, id: &str) -> reqwest::Response {
        self.call(Method::POST, &manager_action(id, "turn-off"), None, None)
            .await
    }

    /// Turn off, asserting 202; returns the reset link mailed.
    async fn manager_reset_link(&self, id: &str) -> String {
        let body = expect_status(self.manager_turn_off(id).await, 202).await;
        body["email"]["link"].as_str().expect("link").to_owned()
    }

    /// `GET /__sandbox/emails`, asserting 200; returns the list.
    async fn emails(&self) -> Vec<Value> {
        let body = self.get_ok("/__sandbox/emails").await;
        body["emails"].as_array().expect("emails").clone()
    }

    /// `POST` the JSON twin of a reset link.
    async fn confirm_reset(&self, link: &str) -> reqwest::Response {
        self.call(Method::POST, &reset_api_path(link), None, None)
            .await
    }

    /// Whether two-step is on for `id`, as the Manager lists it.
    async fn manager_two_step(&self, id: &str) -> bool {
        let body = self.get_ok("/__sandbox/manager/api/numbers").await;
        let numbers = body["numbers"].as_array().expect("numbers");
        let n = numbers.iter().find(|n| n["id"] == id).expect("number");
        n["two_step_enabled"].as_bool().expect("bool")
    }
}

impl<S: Server> Manager for S {}
