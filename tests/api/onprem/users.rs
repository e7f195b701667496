//! User management, part one: creating and reading users, and who may do which.
//! Changing passwords and deleting are in `user_changes`; login is in `login`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

pub(super) const ALICE_PASSWORD: &str = "Alice-Pa55!";
pub(super) const BOB_PASSWORD: &str = "Bob-Pa55word!";
pub(super) const NEW_PASSWORD: &str = "Changed-Pa55!";

/// `POST /v1/users` with a JSON body.
pub(super) async fn create(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/v1/users")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("create user")
}

/// `GET /v1/users/{username}`.
pub(super) async fn read(app: &TestApp, token: &str, username: &str) -> reqwest::Response {
    app.request(Method::GET, &format!("/v1/users/{username}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("read user")
}

/// `PUT /v1/users/{username}` with a JSON body.
pub(super) async fn change(
    app: &TestApp,
    token: &str,
    username: &str,
    body: Value,
) -> reqwest::Response {
    app.request(Method::PUT, &format!("/v1/users/{username}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("change user")
}

/// `DELETE /v1/users/{username}`.
pub(super) async fn delete(app: &TestApp, token: &str, username: &str) -> reqwest::Response {
    app.request(Method::DELETE, &format!("/v1/users/{username}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete user")
}

/// A server with the admin logged in and `alice` (ROLE_USER) created and logged in:
/// returns (app, admin token, alice token).
pub(super) async fn app_with_alice() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let alice = app.user_token(&admin, "alice", ALICE_PASSWORD).await;
    (app, admin, alice)
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn the_admin_creates_a_user_and_gets_201_with_its_name() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = create(
        &app,
        &admin,
        json!({"username": "alice", "password": ALICE_PASSWORD}),
    )
    .await;

    let body = expect_status(resp, 201).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "alice"}], "meta": meta()})
    );
}

#[tokio::test]
async fn a_created_user_logs_in_without_a_password_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let resp = create(
        &app,
        &admin,
        json!({"username": "alice", "password": ALICE_PASSWORD}),
    )
    .await;
    expect_status(resp, 201).await;

    let resp = app.login("alice", ALICE_PASSWORD, None).await;

    let body = expect_status(resp, 200).await;
    let token = body["users"][0]["token"].as_str().expect("token");
    expect_status(app.health(token).await, 200).await;
}

#[tokio::test]
async fn creating_an_existing_username_is_refused_with_409_1004() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = create(
        &app,
        &admin,
        json!({"username": "alice", "password": BOB_PASSWORD}),
    )
    .await;

    expect_error(resp, 409, 1004, Some("User already exists")).await;
    // The original password still works: nothing was overwritten.
    expect_status(app.login("alice", ALICE_PASSWORD, None).await, 200).await;
}

#[tokio::test]
async fn creating_the_admin_again_is_refused_with_409_1004() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = create(
        &app,
        &admin,
        json!({"username": "admin", "password": BOB_PASSWORD}),
    )
    .await;

    expect_error(resp, 409, 1004, Some("User already exists")).await;
}

#[tokio::test]
async fn bad_usernames_are_rejected_with_1009() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let too_long = "a".repeat(33);

    for username in ["abc", too_long.as_str(), "al ice", "al/ice", "élise"] {
        let resp = create(
            &app,
            &admin,
            json!({"username": username, "password": ALICE_PASSWORD}),
        )
        .await;

        let body = expect_error(
            resp,
            400,
            1009,
            Some("Username must be 4 to 32 characters of A-Z a-z 0-9 . _ -"),
        )
        .await;
        assert!(
            body["errors"][0]["details"].is_string(),
            "username {username:?}: {body}"
        );
    }
}

#[tokio::test]
async fn usernames_of_4_and_32_allowed_characters_are_accepted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let long = format!("A.b_c-9{}", "z".repeat(25));
    assert_eq!(long.len(), 32);

    for username in ["a.b_", "x-Y9", long.as_str()] {
        let resp = create(
            &app,
            &admin,
            json!({"username": username, "password": ALICE_PASSWORD}),
        )
        .await;

        let body = expect_status(resp, 201).await;
        assert_eq!(body["users"][0]["username"], username);
        expect_status(app.login(username, ALICE_PASSWORD, None).await, 200).await;
    }
}

#[tokio::test]
async fn a_weak_password_for_a_new_user_is_rejected_with_1009() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    for password in ["Sh0rt!a", "alllowercase1!", "NoDigits!!", "NoPunct123"] {
        let resp = create(
            &app,
            &admin,
            json!({"username": "alice", "password": password}),
        )
        .await;

        expect_error(resp, 400, 1009, Some(PASSWORD_RULE)).await;
    }
    // Nothing was created.
    expect_error(
        read(&app, &admin, "alice").await,
        404,
        1006,
        Some(NO_SUCH_USER),
    )
    .await;
}

#[tokio::test]
async fn creating_a_user_without_username_is_refused_with_1008() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = create(&app, &admin, json!({"password": ALICE_PASSWORD})).await;

    expect_error(
        resp,
        400,
        1008,
        Some("Missing mandatory parameter 'username'"),
    )
    .await;
}

#[tokio::test]
async fn creating_a_user_without_password_is_refused_with_1008() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = create(&app, &admin, json!({"username": "alice"})).await;

    expect_error(
        resp,
        400,
        1008,
        Some("Missing mandatory parameter 'password'"),
    )
    .await;
}

#[tokio::test]
async fn a_non_admin_cannot_create_users() {
    let (app, admin, alice) = app_with_alice().await;

    let resp = create(
        &app,
        &alice,
        json!({"username": "bobby", "password": BOB_PASSWORD}),
    )
    .await;

    expect_error(resp, 403, 1005, Some(NO_PERMISSION)).await;
    expect_error(
        read(&app, &admin, "bobby").await,
        404,
        1006,
        Some(NO_SUCH_USER),
    )
    .await;
}

#[tokio::test]
async fn creating_a_user_without_a_token_is_refused_with_401() {
    let app = TestApp::spawn().await;

    let resp = app
        .request(Method::POST, "/v1/users")
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .expect("create user");

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

// ---------------------------------------------------------------- read

#[tokio::test]
async fn the_admin_reads_a_user_with_its_role() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = read(&app, &admin, "alice").await;

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "alice", "roles": "ROLE_USER"}], "meta": meta()})
    );
}

#[tokio::test]
async fn the_admin_reads_itself_as_role_admin() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = read(&app, &admin, "admin").await;

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "admin", "roles": "ROLE_ADMIN"}], "meta": meta()})
    );
}

#[tokio::test]
async fn a_user_reads_itself() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = read(&app, &alice, "alice").await;

    let body = expect_status(resp, 200).await;
    assert_eq!(
        body["users"],
        json!([{"username": "alice", "roles": "ROLE_USER"}])
    );
}

#[tokio::test]
async fn a_user_cannot_read_the_admin() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = read(&app, &alice, "admin").await;

    expect_error(resp, 403, 1005, Some(CANNOT_READ_OTHER)).await;
}

#[tokio::test]
async fn a_user_reading_an_unknown_user_gets_403_not_404() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = read(&app, &alice, "nobody").await;

    expect_error(resp, 403, 1005, Some(CANNOT_READ_OTHER)).await;
}

#[tokio::test]
async fn reading_an_unknown_user_gets_404_1006() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = read(&app, &admin, "nobody").await;

    expect_error(resp, 404, 1006, Some(NO_SUCH_USER)).await;
}

#[tokio::test]
async fn reading_a_user_without_a_token_is_refused_with_401() {
    let app = TestApp::spawn().await;

    let resp = app.get("/v1/users/admin").await;

    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}
