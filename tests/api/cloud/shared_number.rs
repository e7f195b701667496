//! One number, two flavors: the first number is the one `/v1` acts on, so a PIN
//! set through either API is the PIN the other checks and reports, a Cloud
//! deregister shows in `/v1/health`, and wrong PINs share one budget.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

fn onprem_register(pin: &str) -> Value {
    json!({"cc": "1", "phone_number": "5550100", "method": "sms", "cert": "Y2VydA==", "pin": pin})
}

#[tokio::test]
async fn a_pin_set_through_the_cloud_api_guards_the_on_premises_registration() {
    let app = cloud_spawn().start().await;
    let admin = app.admin_token().await;

    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("314159"))
            .await,
    )
    .await;
    let state = app.sandbox_state().await;
    let without = app
        .call(
            Method::POST,
            "/v1/account",
            Some(&admin),
            Some(
                json!({"cc": "1", "phone_number": "5550100", "method": "sms", "cert": "Y2VydA=="}),
            ),
        )
        .await;
    let wrong = app
        .call(
            Method::POST,
            "/v1/account",
            Some(&admin),
            Some(onprem_register("271828")),
        )
        .await;
    let right = app
        .call(
            Method::POST,
            "/v1/account",
            Some(&admin),
            Some(onprem_register("314159")),
        )
        .await;

    assert_eq!(state["two_step"]["enabled"], true, "{state}");
    assert_eq!(state["numbers"][0]["two_step"]["enabled"], true, "{state}");
    expect_error(without, 400, 1008, Some(MISSING_PIN)).await;
    expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    expect_status(right, 201).await;
}

#[tokio::test]
async fn a_pin_set_or_removed_on_premises_is_the_cloud_numbers_pin() {
    let app = cloud_spawn().start().await;
    let admin = app.admin_token().await;

    expect_status(app.set_pin(&admin, json!({"pin": "161803"})).await, 200).await;
    let on = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;
    let wrong = app.graph_register(CLOUD_TOKEN, PHONE_ID, "000000").await;
    let right = app.graph_register(CLOUD_TOKEN, PHONE_ID, "161803").await;
    expect_status(app.disable_two_step(&admin).await, 200).await;
    let off = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;

    assert_eq!(on["is_pin_enabled"], true);
    expect_graph_error(wrong, pin_mismatch()).await;
    expect_graph_success(right).await;
    assert_eq!(off["is_pin_enabled"], false);
}

#[tokio::test]
async fn a_cloud_deregister_shows_in_v1_health_and_the_state() {
    let app = cloud_spawn().start().await;
    let admin = app.admin_token().await;

    expect_graph_success(app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await).await;
    let health = expect_status(app.health(&admin).await, 200).await;
    let state = app.sandbox_state().await;

    assert_eq!(health["health"]["gateway_status"], "unregistered");
    assert_eq!(state["account"]["registered"], false, "{state}");
    assert_eq!(state["numbers"][0]["registered"], false, "{state}");
}

#[tokio::test]
async fn wrong_pins_through_either_flavor_share_one_budget() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "2")
        .start()
        .await;
    let admin = app.admin_token().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
            .await,
    )
    .await;

    let onprem_wrong = app
        .call(
            Method::POST,
            "/v1/account",
            Some(&admin),
            Some(onprem_register("000001")),
        )
        .await;
    let cloud_wrong = app.graph_register(CLOUD_TOKEN, PHONE_ID, "000002").await;
    let cloud_blocked = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let onprem_blocked = app
        .call(
            Method::POST,
            "/v1/account",
            Some(&admin),
            Some(onprem_register("123456")),
        )
        .await;

    expect_error(
        onprem_wrong,
        400,
        1009,
        Some("Two-step verification PIN mismatch"),
    )
    .await;
    expect_graph_error(cloud_wrong, pin_mismatch()).await;
    expect_graph_error(cloud_blocked, too_many_guesses()).await;
    expect_error(
        onprem_blocked,
        429,
        1015,
        Some("Too many two-step verification PIN guesses"),
    )
    .await;
}
