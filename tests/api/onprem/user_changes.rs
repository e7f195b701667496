//! User management, part two: changing a password and deleting a user, and who
//! may do which.

use reqwest::Method;
use serde_json::json;

use super::users::*;
use crate::support::*;

// ---------------------------------------------------------------- change password

#[tokio::test]
async fn the_admin_changes_a_users_password() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = change(&app, &admin, "alice", json!({"password": NEW_PASSWORD})).await;

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "alice"}], "meta": meta()})
    );
    expect_status(app.login("alice", NEW_PASSWORD, None).await, 200).await;
    expect_login_refused(app.login("alice", ALICE_PASSWORD, None).await).await;
}

#[tokio::test]
async fn a_user_changes_its_own_password() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = change(&app, &alice, "alice", json!({"password": NEW_PASSWORD})).await;

    let body = expect_status(resp, 200).await;
    assert_eq!(body["users"], json!([{"username": "alice"}]));
    expect_status(app.login("alice", NEW_PASSWORD, None).await, 200).await;
    expect_login_refused(app.login("alice", ALICE_PASSWORD, None).await).await;
}

#[tokio::test]
async fn a_user_cannot_change_the_admins_password() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = change(&app, &alice, "admin", json!({"password": NEW_PASSWORD})).await;

    expect_error(resp, 403, 1005, Some(CANNOT_MODIFY_OTHER)).await;
    expect_status(app.login("admin", ADMIN_PASSWORD, None).await, 200).await;
    expect_login_refused(app.login("admin", NEW_PASSWORD, None).await).await;
}

#[tokio::test]
async fn a_user_changing_another_is_403_before_its_body_is_read() {
    let (app, _admin, alice) = app_with_alice().await;
    let put = |body: String| {
        app.raw_json_once(Method::PUT, "/v1/users/admin", &alice, body)
            .send()
    };

    let malformed = put(r#"{"password": "#.to_owned()).await.expect("malformed");
    let too_big = put(format!(r#"{{"pad": "{}"}}"#, "x".repeat(70_000)))
        .await
        .expect("too big");

    expect_error(malformed, 403, 1005, Some(CANNOT_MODIFY_OTHER)).await;
    expect_error(too_big, 403, 1005, Some(CANNOT_MODIFY_OTHER)).await;
}

#[tokio::test]
async fn changing_to_a_weak_password_is_rejected_with_1009() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = change(&app, &admin, "alice", json!({"password": "weakpass"})).await;

    expect_error(resp, 400, 1009, Some(PASSWORD_RULE)).await;
    expect_status(app.login("alice", ALICE_PASSWORD, None).await, 200).await;
}

#[tokio::test]
async fn changing_a_password_without_password_is_refused_with_1008() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = change(&app, &admin, "alice", json!({})).await;

    expect_error(
        resp,
        400,
        1008,
        Some("Missing mandatory parameter 'password'"),
    )
    .await;
}

#[tokio::test]
async fn changing_an_unknown_users_password_gets_404_1006() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = change(&app, &admin, "nobody", json!({"password": NEW_PASSWORD})).await;

    expect_error(resp, 404, 1006, Some(NO_SUCH_USER)).await;
}

// ---------------------------------------------------------------- delete

#[tokio::test]
async fn the_admin_deletes_a_user_and_its_tokens_stop_working() {
    let (app, admin, alice) = app_with_alice().await;
    let second = app.login("alice", ALICE_PASSWORD, None).await;
    let second = expect_status(second, 200).await["users"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let resp = delete(&app, &admin, "alice").await;

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "alice"}], "meta": meta()})
    );
    for token in [&alice, &second] {
        expect_error(app.health(token).await, 401, 1005, Some(NO_CREDENTIALS)).await;
    }
    expect_login_refused(app.login("alice", ALICE_PASSWORD, None).await).await;
    expect_error(
        read(&app, &admin, "alice").await,
        404,
        1006,
        Some(NO_SUCH_USER),
    )
    .await;
}

#[tokio::test]
async fn a_deleted_username_can_be_created_again() {
    let (app, admin, _alice) = app_with_alice().await;
    expect_status(delete(&app, &admin, "alice").await, 200).await;

    let resp = create(
        &app,
        &admin,
        json!({"username": "alice", "password": NEW_PASSWORD}),
    )
    .await;

    expect_status(resp, 201).await;
    expect_status(app.login("alice", NEW_PASSWORD, None).await, 200).await;
}

#[tokio::test]
async fn the_admin_user_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = delete(&app, &admin, "admin").await;

    expect_error(resp, 400, 1009, Some("Admin user cannot be deleted")).await;
    expect_status(app.health(&admin).await, 200).await;
}

#[tokio::test]
async fn deleting_an_unknown_user_gets_404_1006() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = delete(&app, &admin, "nobody").await;

    expect_error(resp, 404, 1006, Some(NO_SUCH_USER)).await;
}

#[tokio::test]
async fn a_non_admin_cannot_delete_users() {
    let (app, admin, alice) = app_with_alice().await;
    let resp = create(
        &app,
        &admin,
        json!({"username": "bobby", "password": BOB_PASSWORD}),
    )
    .await;
    expect_status(resp, 201).await;

    let other = delete(&app, &alice, "bobby").await;
    let itself = delete(&app, &alice, "alice").await;

    expect_error(other, 403, 1005, Some(NO_PERMISSION)).await;
    expect_error(itself, 403, 1005, Some(NO_PERMISSION)).await;
    expect_status(read(&app, &admin, "bobby").await, 200).await;
    expect_status(app.health(&alice).await, 200).await;
}

#[tokio::test]
async fn a_username_that_is_not_utf8_is_an_unknown_user_in_the_envelope() {
    let (app, admin, alice) = app_with_alice().await;

    let admin_reads = read(&app, &admin, "%FF").await;
    let alice_reads = read(&app, &alice, "%FF").await;
    let admin_deletes = delete(&app, &admin, "al%FFice").await;

    expect_error(admin_reads, 404, 1006, Some(NO_SUCH_USER)).await;
    expect_error(alice_reads, 403, 1005, Some(CANNOT_READ_OTHER)).await;
    expect_error(admin_deletes, 404, 1006, Some(NO_SUCH_USER)).await;
}
