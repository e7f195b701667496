//! Register and deregister: with two-step off the register PIN becomes the
//! number's PIN; with it on the PIN must match; deregister keeps the PIN; a
//! deregistered number reads DISCONNECTED and registers again with its PIN.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn registering_while_two_step_is_off_makes_the_pin_the_numbers_pin() {
    let app = cloud_spawn().start().await;

    let register = app.graph_register(CLOUD_TOKEN, PHONE_ID, "135790").await;
    let fields = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled,status")
        .await;
    let wrong = app.graph_register(CLOUD_TOKEN, PHONE_ID, "000000").await;
    let right = app.graph_register(CLOUD_TOKEN, PHONE_ID, "135790").await;

    expect_graph_success(register).await;
    assert_eq!(
        fields,
        json!({"is_pin_enabled": true, "status": "CONNECTED", "id": PHONE_ID})
    );
    expect_graph_error(wrong, pin_mismatch()).await;
    expect_graph_success(right).await;
}

#[tokio::test]
async fn deregistering_disconnects_the_number_and_keeps_its_pin() {
    let app = cloud_spawn().start().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("246802"))
            .await,
    )
    .await;

    let deregister = app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await;
    let after = app
        .graph_fields(
            CLOUD_TOKEN,
            PHONE_ID,
            "status,platform_type,is_pin_enabled,code_verification_status",
        )
        .await;
    let again = app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await;
    let wrong = app.graph_register(CLOUD_TOKEN, PHONE_ID, "111111").await;
    let still_off = app.graph_fields(CLOUD_TOKEN, PHONE_ID, "status").await;
    let right = app.graph_register(CLOUD_TOKEN, PHONE_ID, "246802").await;
    let back = app.graph_fields(CLOUD_TOKEN, PHONE_ID, "status").await;

    expect_graph_success(deregister).await;
    assert_eq!(
        after,
        json!({"status": "DISCONNECTED", "platform_type": "NOT_APPLICABLE", "is_pin_enabled": true,
               "code_verification_status": "NOT_VERIFIED", "id": PHONE_ID})
    );
    expect_graph_success(again).await;
    expect_graph_error(wrong, pin_mismatch()).await;
    assert_eq!(still_off["status"], "DISCONNECTED");
    expect_graph_success(right).await;
    assert_eq!(back["status"], "CONNECTED");
}

#[tokio::test]
async fn a_registration_survives_a_restart() {
    let app = cloud_spawn().start().await;
    expect_graph_success(app.graph_register(CLOUD_TOKEN, PHONE_ID, "975310").await).await;
    expect_graph_success(app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await).await;

    let app = app.restart().await;
    let fields = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "status,is_pin_enabled")
        .await;
    let right = app.graph_register(CLOUD_TOKEN, PHONE_ID, "975310").await;

    assert_eq!(
        fields,
        json!({"status": "DISCONNECTED", "is_pin_enabled": true, "id": PHONE_ID})
    );
    expect_graph_success(right).await;
}
