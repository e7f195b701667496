//! Change PIN needs the current PIN, and a wrong one spends the number's guess
//! budget (the one registration uses); Set PIN works only while two-step is off;
//! a PIN changed in the Manager is the PIN the Cloud register then needs.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn change_pin_needs_the_current_pin_and_the_new_one_is_the_register_pin() {
    let app = cloud_spawn().start().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;

    let wrong = app
        .manager_change_pin(PHONE_ID, "999999", "222222", "222222")
        .await;
    let budget = app.sandbox_state().await["numbers"][0]["pin_guesses"].clone();
    let right = app
        .manager_change_pin(PHONE_ID, "111111", "222222", "222222")
        .await;
    let old = app.graph_register(CLOUD_TOKEN, PHONE_ID, "111111").await;
    let new = app.graph_register(CLOUD_TOKEN, PHONE_ID, "222222").await;

    expect_error(wrong, 400, 1009, Some("The current PIN is incorrect")).await;
    assert_eq!(
        budget["used"], 1,
        "a wrong current PIN is a guess: {budget}"
    );
    let body = expect_status(right, 200).await;
    assert_eq!(body["number"]["two_step_enabled"], true);
    expect_graph_error(old, pin_mismatch()).await;
    expect_graph_success(new).await;
}

#[tokio::test]
async fn form_mistakes_are_refused_with_their_own_message_and_spend_no_guess() {
    let app = cloud_spawn().start().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;

    let mismatch = app
        .manager_change_pin(PHONE_ID, "111111", "222222", "333333")
        .await;
    let short = app
        .manager_change_pin(PHONE_ID, "111111", "2222", "2222")
        .await;
    let letters = app
        .manager_change_pin(PHONE_ID, "11111a", "222222", "222222")
        .await;
    let missing = app
        .call(
            reqwest::Method::POST,
            &manager_action(PHONE_ID, "change-pin"),
            None,
            Some(json!({"current_pin": "111111", "new_pin": "222222"})),
        )
        .await;
    let unknown = app
        .manager_change_pin("123", "111111", "222222", "222222")
        .await;
    let budget = app.sandbox_state().await["numbers"][0]["pin_guesses"].clone();

    expect_error(
        mismatch,
        400,
        1009,
        Some("The PINs you entered don't match"),
    )
    .await;
    expect_error(short, 400, 1009, Some("The new PIN must be 6 digits")).await;
    expect_error(letters, 400, 1009, Some("The current PIN must be 6 digits")).await;
    expect_error(
        missing,
        400,
        1008,
        Some("Missing mandatory parameter 'confirm_pin'"),
    )
    .await;
    expect_error(unknown, 404, 1006, Some("Phone number does not exist")).await;
    assert_eq!(budget["used"], 0, "{budget}");
}

#[tokio::test]
async fn wrong_current_pins_run_into_the_shared_guess_budget() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "2")
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;

    for _ in 0..2 {
        let r = app
            .manager_change_pin(PHONE_ID, "999999", "222222", "222222")
            .await;
        expect_error(r, 400, 1009, Some("The current PIN is incorrect")).await;
    }
    let blocked = app
        .manager_change_pin(PHONE_ID, "111111", "222222", "222222")
        .await;
    let register = app.graph_register(CLOUD_TOKEN, PHONE_ID, "111111").await;

    expect_error(
        blocked,
        429,
        1015,
        Some("Too many incorrect PINs. Try again later"),
    )
    .await;
    let r = Reply::of(register).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["error"]["code"], 133008, "{r:?}");
}

#[tokio::test]
async fn set_pin_works_while_two_step_is_off_and_change_pin_while_it_is_on() {
    let app = cloud_spawn().start().await;

    let change_when_off = app
        .manager_change_pin(PHONE_ID, "111111", "222222", "222222")
        .await;
    let set = app.manager_set_pin(PHONE_ID, "424242", "424242").await;
    let set_again = app.manager_set_pin(PHONE_ID, "434343", "434343").await;
    let on = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;
    let register = app.graph_register(CLOUD_TOKEN, PHONE_ID, "424242").await;

    expect_error(change_when_off, 409, 1025, Some(TWO_STEP_OFF)).await;
    expect_status(set, 200).await;
    expect_error(set_again, 409, 1025, Some(TWO_STEP_ON)).await;
    assert_eq!(on["is_pin_enabled"], true);
    expect_graph_success(register).await;
}

#[tokio::test]
async fn the_manager_endpoints_need_the_control_token_when_one_is_set() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;

    let without = app.manager_set_pin(PHONE_ID, "424242", "424242").await;
    let emails = app.get("/__sandbox/emails").await;
    let with = app
        .call(
            reqwest::Method::POST,
            &manager_action(PHONE_ID, "set-pin"),
            Some(CONTROL_TOKEN),
            Some(json!({"new_pin": "424242", "confirm_pin": "424242"})),
        )
        .await;

    expect_error(without, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_error(emails, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_status(with, 200).await;
}
