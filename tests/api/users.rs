//! User management: create, read, change password, delete, and who may do which (SPEC §2); does not cover login itself.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::helpers::*;

const ALICE_PASSWORD: &str = "Alice-Pa55!";
const BOB_PASSWORD: &str = "Bob-Pa55word!";
const NEW_PASSWORD: &str = "Changed-Pa55!";
const NO_PERMISSION: &str = "User doesn't have permission";
// A non-admin touching another user gets the real server's own texts (reference facts, S6),
// not the generic wrong-role text.
const CANNOT_READ_OTHER: &str = "Regular user cannot read other user information";
const CANNOT_MODIFY_OTHER: &str = "Regular user cannot modify other user";
const INVALID_CREDENTIALS: &str = "Missing or invalid authentication credentials";

/// The default `meta` object.
fn meta() -> Value {
    json!({"version": "v2.45.1", "api_status": "stable"})
}

/// `POST /v1/users` with a JSON body.
async fn create(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/v1/users")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("create user")
}

/// `GET /v1/users/{username}`.
async fn read(app: &TestApp, token: &str, username: &str) -> reqwest::Response {
    app.request(Method::GET, &format!("/v1/users/{username}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("read user")
}

/// `PUT /v1/users/{username}` with a JSON body.
async fn change(app: &TestApp, token: &str, username: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, &format!("/v1/users/{username}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("change user")
}

/// `DELETE /v1/users/{username}`.
async fn delete(app: &TestApp, token: &str, username: &str) -> reqwest::Response {
    app.request(Method::DELETE, &format!("/v1/users/{username}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete user")
}

/// `GET /v1/health` with a bearer token.
async fn health(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::GET, "/v1/health")
        .bearer_auth(token)
        .send()
        .await
        .expect("health")
}

/// Asserts an error envelope with the given `details`.
#[track_caller]
fn expect_details(
    resp: reqwest::Response,
    status: StatusCode,
    code: i64,
    details: &'static str,
) -> impl std::future::Future<Output = ()> {
    let caller = std::panic::Location::caller();
    let fut = expect_error(resp, status, code);
    async move {
        let body = fut.await;
        assert_eq!(
            body["errors"][0]["details"], details,
            "at {caller}; body: {body}"
        );
    }
}

/// Asserts a refused login: 401 with an empty body.
#[track_caller]
fn expect_login_refused(resp: reqwest::Response) -> impl std::future::Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "at {caller}; body: {text}"
        );
        assert!(
            text.is_empty(),
            "login refusal must have an empty body at {caller}; got {text:?}"
        );
    }
}

/// A server with the admin logged in and `alice` (ROLE_USER) created and logged in:
/// returns (app, admin token, alice token).
async fn app_with_alice() -> (TestApp, String, String) {
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

    let body = expect_status(resp, StatusCode::CREATED).await;
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
    expect_status(resp, StatusCode::CREATED).await;

    let resp = app.login("alice", ALICE_PASSWORD, None).await;

    let body = expect_status(resp, StatusCode::OK).await;
    let token = body["users"][0]["token"].as_str().expect("token");
    expect_status(health(&app, token).await, StatusCode::OK).await;
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

    expect_error(resp, StatusCode::CONFLICT, 1004).await;
    // The original password still works: nothing was overwritten.
    expect_status(
        app.login("alice", ALICE_PASSWORD, None).await,
        StatusCode::OK,
    )
    .await;
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

    expect_error(resp, StatusCode::CONFLICT, 1004).await;
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

        let body = expect_error(resp, StatusCode::BAD_REQUEST, 1009).await;
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

        let body = expect_status(resp, StatusCode::CREATED).await;
        assert_eq!(body["users"][0]["username"], username);
        expect_status(
            app.login(username, ALICE_PASSWORD, None).await,
            StatusCode::OK,
        )
        .await;
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

        expect_error(resp, StatusCode::BAD_REQUEST, 1009).await;
    }
    // Nothing was created.
    expect_details(
        read(&app, &admin, "alice").await,
        StatusCode::NOT_FOUND,
        1006,
        "User does not exist",
    )
    .await;
}

#[tokio::test]
async fn creating_a_user_without_username_is_refused_with_1008() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = create(&app, &admin, json!({"password": ALICE_PASSWORD})).await;

    expect_details(
        resp,
        StatusCode::BAD_REQUEST,
        1008,
        "Missing mandatory parameter 'username'",
    )
    .await;
}

#[tokio::test]
async fn creating_a_user_without_password_is_refused_with_1008() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = create(&app, &admin, json!({"username": "alice"})).await;

    expect_details(
        resp,
        StatusCode::BAD_REQUEST,
        1008,
        "Missing mandatory parameter 'password'",
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

    expect_details(resp, StatusCode::FORBIDDEN, 1005, NO_PERMISSION).await;
    expect_details(
        read(&app, &admin, "bobby").await,
        StatusCode::NOT_FOUND,
        1006,
        "User does not exist",
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

    expect_details(resp, StatusCode::UNAUTHORIZED, 1005, INVALID_CREDENTIALS).await;
}

// ---------------------------------------------------------------- read

#[tokio::test]
async fn the_admin_reads_a_user_with_its_role() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = read(&app, &admin, "alice").await;

    let body = expect_status(resp, StatusCode::OK).await;
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

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "admin", "roles": "ROLE_ADMIN"}], "meta": meta()})
    );
}

#[tokio::test]
async fn a_user_reads_itself() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = read(&app, &alice, "alice").await;

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(
        body["users"],
        json!([{"username": "alice", "roles": "ROLE_USER"}])
    );
}

#[tokio::test]
async fn a_user_cannot_read_the_admin() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = read(&app, &alice, "admin").await;

    expect_details(resp, StatusCode::FORBIDDEN, 1005, CANNOT_READ_OTHER).await;
}

#[tokio::test]
async fn a_user_reading_an_unknown_user_gets_403_not_404() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = read(&app, &alice, "nobody").await;

    expect_details(resp, StatusCode::FORBIDDEN, 1005, CANNOT_READ_OTHER).await;
}

#[tokio::test]
async fn reading_an_unknown_user_gets_404_1006() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = read(&app, &admin, "nobody").await;

    expect_details(resp, StatusCode::NOT_FOUND, 1006, "User does not exist").await;
}

#[tokio::test]
async fn reading_a_user_without_a_token_is_refused_with_401() {
    let app = TestApp::spawn().await;

    let resp = app
        .request(Method::GET, "/v1/users/admin")
        .send()
        .await
        .expect("read user");

    expect_details(resp, StatusCode::UNAUTHORIZED, 1005, INVALID_CREDENTIALS).await;
}

// ---------------------------------------------------------------- change password

#[tokio::test]
async fn the_admin_changes_a_users_password() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = change(&app, &admin, "alice", json!({"password": NEW_PASSWORD})).await;

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "alice"}], "meta": meta()})
    );
    expect_status(app.login("alice", NEW_PASSWORD, None).await, StatusCode::OK).await;
    expect_login_refused(app.login("alice", ALICE_PASSWORD, None).await).await;
}

#[tokio::test]
async fn a_user_changes_its_own_password() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = change(&app, &alice, "alice", json!({"password": NEW_PASSWORD})).await;

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(body["users"], json!([{"username": "alice"}]));
    expect_status(app.login("alice", NEW_PASSWORD, None).await, StatusCode::OK).await;
    expect_login_refused(app.login("alice", ALICE_PASSWORD, None).await).await;
}

#[tokio::test]
async fn a_user_cannot_change_the_admins_password() {
    let (app, _admin, alice) = app_with_alice().await;

    let resp = change(&app, &alice, "admin", json!({"password": NEW_PASSWORD})).await;

    expect_details(resp, StatusCode::FORBIDDEN, 1005, CANNOT_MODIFY_OTHER).await;
    expect_status(
        app.login("admin", ADMIN_PASSWORD, None).await,
        StatusCode::OK,
    )
    .await;
    expect_login_refused(app.login("admin", NEW_PASSWORD, None).await).await;
}

#[tokio::test]
async fn changing_to_a_weak_password_is_rejected_with_1009() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = change(&app, &admin, "alice", json!({"password": "weakpass"})).await;

    expect_error(resp, StatusCode::BAD_REQUEST, 1009).await;
    expect_status(
        app.login("alice", ALICE_PASSWORD, None).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn changing_a_password_without_password_is_refused_with_1008() {
    let (app, admin, _alice) = app_with_alice().await;

    let resp = change(&app, &admin, "alice", json!({})).await;

    expect_details(
        resp,
        StatusCode::BAD_REQUEST,
        1008,
        "Missing mandatory parameter 'password'",
    )
    .await;
}

#[tokio::test]
async fn changing_an_unknown_users_password_gets_404_1006() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = change(&app, &admin, "nobody", json!({"password": NEW_PASSWORD})).await;

    expect_details(resp, StatusCode::NOT_FOUND, 1006, "User does not exist").await;
}

// ---------------------------------------------------------------- delete

#[tokio::test]
async fn the_admin_deletes_a_user_and_its_tokens_stop_working() {
    let (app, admin, alice) = app_with_alice().await;
    let second = app.login("alice", ALICE_PASSWORD, None).await;
    let second = expect_status(second, StatusCode::OK).await["users"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let resp = delete(&app, &admin, "alice").await;

    let body = expect_status(resp, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"users": [{"username": "alice"}], "meta": meta()})
    );
    for token in [&alice, &second] {
        expect_details(
            health(&app, token).await,
            StatusCode::UNAUTHORIZED,
            1005,
            INVALID_CREDENTIALS,
        )
        .await;
    }
    expect_login_refused(app.login("alice", ALICE_PASSWORD, None).await).await;
    expect_details(
        read(&app, &admin, "alice").await,
        StatusCode::NOT_FOUND,
        1006,
        "User does not exist",
    )
    .await;
}

#[tokio::test]
async fn a_deleted_username_can_be_created_again() {
    let (app, admin, _alice) = app_with_alice().await;
    expect_status(delete(&app, &admin, "alice").await, StatusCode::OK).await;

    let resp = create(
        &app,
        &admin,
        json!({"username": "alice", "password": NEW_PASSWORD}),
    )
    .await;

    expect_status(resp, StatusCode::CREATED).await;
    expect_status(app.login("alice", NEW_PASSWORD, None).await, StatusCode::OK).await;
}

#[tokio::test]
async fn the_admin_user_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = delete(&app, &admin, "admin").await;

    expect_details(
        resp,
        StatusCode::BAD_REQUEST,
        1009,
        "Admin user cannot be deleted",
    )
    .await;
    expect_status(health(&app, &admin).await, StatusCode::OK).await;
}

#[tokio::test]
async fn deleting_an_unknown_user_gets_404_1006() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let resp = delete(&app, &admin, "nobody").await;

    expect_details(resp, StatusCode::NOT_FOUND, 1006, "User does not exist").await;
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
    expect_status(resp, StatusCode::CREATED).await;

    let other = delete(&app, &alice, "bobby").await;
    let itself = delete(&app, &alice, "alice").await;

    expect_details(other, StatusCode::FORBIDDEN, 1005, NO_PERMISSION).await;
    expect_details(itself, StatusCode::FORBIDDEN, 1005, NO_PERMISSION).await;
    expect_status(read(&app, &admin, "bobby").await, StatusCode::OK).await;
    expect_status(health(&app, &alice).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_username_that_is_not_utf8_is_an_unknown_user_in_the_envelope() {
    let (app, admin, alice) = app_with_alice().await;

    let admin_reads = read(&app, &admin, "%FF").await;
    let alice_reads = read(&app, &alice, "%FF").await;
    let admin_deletes = delete(&app, &admin, "al%FFice").await;

    expect_details(
        admin_reads,
        StatusCode::NOT_FOUND,
        1006,
        "User does not exist",
    )
    .await;
    expect_details(alice_reads, StatusCode::FORBIDDEN, 1005, CANNOT_READ_OTHER).await;
    expect_details(
        admin_deletes,
        StatusCode::NOT_FOUND,
        1006,
        "User does not exist",
    )
    .await;
}
