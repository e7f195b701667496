//! Durability: what survives a restart (PIN, tokens, the admin password, the PIN
//! guarding re-registration), concurrent changes, and ephemeral state restarting
//! from the seed. The state file itself is in `state_file`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

/// `GET /v1/users/{name}` with `token`.
async fn get_user(app: &TestApp, token: &str, name: &str) -> reqwest::Response {
    app.request(Method::GET, &format!("/v1/users/{name}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get user")
}

#[tokio::test]
async fn a_pin_survives_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "246810"})).await, 200).await;
    let before = app.sandbox_state().await;

    // Act
    let app = app.restart().await;

    // Assert
    let after = app.sandbox_state().await;
    assert_eq!(
        after["two_step"]["enabled"], true,
        "state after restart: {after}"
    );
    assert_eq!(
        after["two_step"]["updated_at"], before["two_step"]["updated_at"],
        "updated_at changed across the restart"
    );
}

#[tokio::test]
async fn a_token_issued_before_a_restart_still_works_after_it() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    // Act
    let app = app.restart().await;
    let resp = app.disable_two_step(&token).await;

    // Assert
    expect_status(resp, 200).await;
    let state = app.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], false, "state: {state}");
}

#[tokio::test]
async fn the_new_admin_password_survives_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    app.admin_token().await; // changes the seed password to ADMIN_PASSWORD

    // Act
    let app = app.restart().await;

    // Assert
    let resp = app.login("admin", ADMIN_PASSWORD, None).await;
    let body = expect_status(resp, 200).await;
    assert!(body["users"][0]["token"].is_string(), "login body: {body}");
    let resp = app.login("admin", SEED_PASSWORD, None).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "the seed password works again after a restart"
    );
    let state = app.sandbox_state().await;
    let admin = state["users"]
        .as_array()
        .expect("users array")
        .iter()
        .find(|u| u["username"] == "admin")
        .expect("admin in state")
        .clone();
    assert_eq!(admin["password_change_required"], false, "state: {state}");
}

#[tokio::test]
async fn the_pin_set_before_a_restart_still_guards_re_registration() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "246810"})).await, 200).await;
    let app = app.restart().await;
    let register = |pin: &str| {
        app.request(Method::POST, "/v1/account")
            .bearer_auth(&token)
            .json(
                &json!({"cc": "1", "phone_number": "5550100", "method": "sms",
                          "cert": "Y2VydA==", "pin": pin}),
            )
            .send()
    };

    // Act
    let wrong = register("135791").await.expect("register with wrong pin");
    let right = register("246810").await.expect("register with right pin");

    // Assert
    expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    assert!(
        right.status() == StatusCode::CREATED || right.status() == StatusCode::ACCEPTED,
        "the PIN set before the restart was not accepted: {}",
        right.status()
    );
}

#[tokio::test]
async fn concurrent_pin_changes_are_all_acknowledged_and_the_final_state_survives_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    // Act
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let client = app.client.clone();
        let url = app.url(TWO_STEP);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let req = if i % 2 == 0 {
                client
                    .post(&url)
                    .json(&json!({"pin": format!("{:06}", 100_000 + i)}))
            } else {
                client.delete(&url)
            };
            let resp = req.bearer_auth(&token).send().await.expect("request");
            let status = resp.status();
            (i, status, resp.text().await.unwrap_or_default())
        }));
    }
    for task in tasks {
        let (i, status, body) = task.await.expect("join");
        assert_eq!(
            status,
            StatusCode::OK,
            "request {i} not acknowledged: {body}"
        );
    }
    let before = app.sandbox_state().await;
    let app = app.restart().await;

    // Assert
    let after = app.sandbox_state().await;
    assert!(
        !before["two_step"]["updated_at"].is_null(),
        "no change recorded: {before}"
    );
    assert_eq!(
        after, before,
        "state after restart differs from the state before it"
    );
}

#[tokio::test]
async fn concurrently_created_users_all_survive_a_restart() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let names: Vec<String> = (0..20).map(|i| format!("user{i:02}")).collect();
    let password = "Us3r-Passw0rd!";

    // Act
    let mut tasks = Vec::new();
    for name in &names {
        let req = app
            .request(Method::POST, "/v1/users")
            .bearer_auth(&token)
            .json(&json!({"username": name, "password": password}));
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            let resp = req.send().await.expect("create user");
            let status = resp.status();
            (name, status, resp.text().await.unwrap_or_default())
        }));
    }
    for task in tasks {
        let (name, status, body) = task.await.expect("join");
        assert_eq!(status, StatusCode::CREATED, "creating {name}: {body}");
    }
    let app = app.restart().await;

    // Assert
    for name in &names {
        let body = expect_status(get_user(&app, &token, name).await, 200).await;
        assert_eq!(body["users"][0]["username"], name.as_str(), "body: {body}");
        assert_eq!(body["users"][0]["roles"], "ROLE_USER", "body: {body}");
        let resp = app.login(name, password, None).await;
        expect_status(resp, 200).await;
    }
}

#[tokio::test]
async fn ephemeral_state_starts_from_the_seed_after_a_restart() {
    // Arrange
    let mut spawn = TestApp::with().arg("--ephemeral");
    spawn.no_state_flag = true;
    let app = spawn.start().await;
    let token = app.admin_token().await;
    expect_status(app.set_pin(&token, json!({"pin": "123456"})).await, 200).await;

    // Act
    let app = app.restart().await;

    // Assert
    let state = app.sandbox_state().await;
    assert_eq!(state["two_step"]["enabled"], false, "state: {state}");
    assert_eq!(
        state["two_step"]["updated_at"],
        Value::Null,
        "state: {state}"
    );
    assert_eq!(state["tokens"], 0, "state: {state}");
    let resp = app.disable_two_step(&token).await;
    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}
