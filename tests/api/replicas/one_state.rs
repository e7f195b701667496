//! A change acknowledged by one server holds for the very next request on the
//! other: tokens, logout, deleted users, password changes, resets and the PIN.

use reqwest::Method;
use serde_json::json;

use crate::support::postgres::Replicas;
use crate::support::*;

#[tokio::test]
async fn a_token_from_a_works_on_b_and_a_logout_on_a_ends_it_on_b() {
    let r = Replicas::start(&[]).await;
    let token = r.a.admin_token().await;

    expect_status(r.b.health(&token).await, 200).await;

    let logout =
        r.a.call(Method::POST, "/v1/users/logout", Some(&token), None)
            .await;
    expect_status(logout, 200).await;
    expect_error(r.b.health(&token).await, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn a_user_deleted_or_given_a_new_password_on_a_is_so_on_b() {
    let r = Replicas::start(&[]).await;
    let admin = r.a.admin_token().await;
    let alice = r.a.user_token(&admin, "alice", "Alice-Pa55!").await;
    let bob = r.a.user_token(&admin, "bobby", "Bob-Pa55!!").await;
    expect_status(r.b.health(&alice).await, 200).await;

    let deleted =
        r.a.call(Method::DELETE, "/v1/users/alice", Some(&admin), None)
            .await;
    expect_status(deleted, 200).await;
    expect_error(r.b.health(&alice).await, 401, 1005, Some(NO_CREDENTIALS)).await;
    let read =
        r.b.call(Method::GET, "/v1/users/alice", Some(&admin), None)
            .await;
    expect_error(read, 404, 1006, Some(NO_SUCH_USER)).await;

    let changed =
        r.a.call(
            Method::PUT,
            "/v1/users/bobby",
            Some(&admin),
            Some(json!({"password": "Bob-New-Pa55!"})),
        )
        .await;
    expect_status(changed, 200).await;
    expect_login_refused(r.b.login("bobby", "Bob-Pa55!!", None).await).await;
    expect_token(r.b.login("bobby", "Bob-New-Pa55!", None).await).await;
    // Tokens issued before the change stay valid on both, as on one server.
    expect_status(r.b.health(&bob).await, 200).await;
}

#[tokio::test]
async fn a_pin_set_on_b_is_what_a_register_on_a_needs() {
    let r = Replicas::start(&[]).await;
    let token = r.b.admin_token().await;
    expect_status(r.b.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    let missing = r.a.register_number(&token, None).await;
    expect_error(
        missing,
        400,
        1008,
        Some("Missing mandatory parameter 'pin'"),
    )
    .await;
    let wrong = r.a.register_number(&token, Some("135791")).await;
    expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    expect_status(r.a.register_number(&token, Some("246810")).await, 201).await;

    expect_status(r.b.set_pin(&token, json!({"pin": "112233"})).await, 200).await;
    let old = r.a.register_number(&token, Some("246810")).await;
    expect_error(old, 400, 1009, Some("Two-step verification PIN mismatch")).await;

    expect_status(r.b.disable_two_step(&token).await, 200).await;
    expect_status(r.a.register_number(&token, None).await, 201).await;
}

#[tokio::test]
async fn a_reset_on_a_holds_on_b() {
    let r = Replicas::start(&[]).await;
    let token = r.a.admin_token().await;
    r.a.user_token(&token, "carol", "Carol-Pa55!").await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    let reset = r.a.call(Method::POST, "/__sandbox/reset", None, None).await;
    expect_status(reset, 200).await;

    expect_error(r.b.health(&token).await, 401, 1005, Some(NO_CREDENTIALS)).await;
    let state = r.b.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], json!(false), "{state}");
    let users: Vec<_> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(users, vec![json!("admin")], "{state}");
    expect_token(r.b.login("admin", SEED_PASSWORD, None).await).await;
}

#[tokio::test]
async fn a_server_started_later_reads_the_state_the_others_wrote() {
    let r = Replicas::start(&[]).await;
    let token = r.a.admin_token().await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    let c = crate::support::postgres::replica(&r.url).start().await;
    expect_status(c.health(&token).await, 200).await;
    assert_eq!(c.sandbox_state().await["two_step"]["enabled"], json!(true));
}

#[tokio::test]
async fn the_manager_on_b_sees_a_pin_set_on_a() {
    let r = Replicas::start(&[]).await;
    let token = r.a.admin_token().await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    // B's Manager knows the PIN A set: the current PIN is right, and it changes it.
    let changed =
        r.b.manager_change_pin(PHONE_ID, "246810", "135791", "135791")
            .await;
    expect_status(changed, 200).await;
    let old = r.a.register_number(&token, Some("246810")).await;
    expect_error(old, 400, 1009, Some("Two-step verification PIN mismatch")).await;

    // Two-step turned off on A: B's Manager offers Set PIN, not "already on".
    expect_status(r.a.disable_two_step(&token).await, 200).await;
    expect_status(r.b.manager_set_pin(PHONE_ID, "112233", "112233").await, 200).await;
}
