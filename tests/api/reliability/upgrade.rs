//! An upgrade loses nothing: a schema-1 state file written by a released server
//! (commit 8c97767; `tests/fixtures/schema1/make.sh` shows how) loads in this
//! build with its users, tokens, PIN and registration, and the next change writes
//! it in the current schema.

use std::path::Path;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema1");
/// The admin password, PIN and user the fixture's server was given.
const ADMIN: &str = "Fixture-Pa55!";
const PIN: &str = "246810";

fn fixture_tokens() -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("tokens.json")).expect("tokens");
    serde_json::from_str(&text).expect("tokens.json")
}

fn schema_on_disk(app: &TestApp) -> Value {
    let bytes = std::fs::read(&app.state_path).expect("state.json");
    serde_json::from_slice::<Value>(&bytes).expect("JSON")["schema"].clone()
}

/// A server on a copy of the fixture. Its settings say "not registered", so a
/// registered number can only come from the file.
async fn on_fixture(extra: &[(&str, &str)]) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    for name in ["state.json", "state.json.log"] {
        std::fs::copy(Path::new(FIXTURE).join(name), dir.path().join(name)).expect("copy");
    }
    let mut spawn = TestApp::with().env("WA_TWOSTEP_ACCOUNT__REGISTERED", "false");
    for (k, v) in extra {
        spawn = spawn.env(*k, *v);
    }
    spawn.dir = Some(dir);
    spawn.start().await
}

fn register_body(pin: &str) -> Value {
    json!({"cc": "1", "phone_number": "5550100", "method": "sms", "cert": "Y2VydA==", "pin": pin})
}

#[tokio::test]
async fn a_schema_1_file_of_the_released_server_keeps_users_tokens_pin_and_registration() {
    // Arrange
    let app = on_fixture(&[]).await;
    let tokens = fixture_tokens();
    let admin = tokens["admin"].as_str().expect("admin token");
    let alice = tokens["alice01"].as_str().expect("alice token");

    // Act
    let alice_health = app.health(alice).await;
    let alice_read = app
        .call(Method::GET, "/v1/users/alice01", Some(admin), None)
        .await;
    let state = app.sandbox_state().await;
    let wrong = app
        .call(
            Method::POST,
            "/v1/account",
            Some(admin),
            Some(register_body("135790")),
        )
        .await;
    let right = app
        .call(
            Method::POST,
            "/v1/account",
            Some(admin),
            Some(register_body(PIN)),
        )
        .await;
    let schema_before_a_change = schema_on_disk(&app);

    // Assert
    expect_status(alice_health, 200).await;
    let body = expect_status(alice_read, 200).await;
    assert_eq!(body["users"][0]["roles"], "ROLE_USER");
    assert_eq!(state["two_step"]["enabled"], true, "{state}");
    assert_eq!(state["account"]["registered"], true, "{state}");
    let names: Vec<&str> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["admin", "alice01"]);
    assert_eq!(
        state["tokens"], 2,
        "both tokens of the released server live: {state}"
    );
    expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    expect_status(right, 201).await;
    assert_eq!(
        schema_before_a_change, 1,
        "nothing is written before a change"
    );
}

#[tokio::test]
async fn the_released_servers_pin_guards_the_cloud_register_of_the_first_number() {
    // Arrange
    let app = on_fixture(&[("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", CLOUD_TOKEN)]).await;

    // Act
    let fields = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled,status")
        .await;
    let wrong = app.graph_register(CLOUD_TOKEN, PHONE_ID, "135790").await;
    let right = app.graph_register(CLOUD_TOKEN, PHONE_ID, PIN).await;
    let state = app.sandbox_state().await;

    // Assert
    assert_eq!(fields["is_pin_enabled"], true, "{fields}");
    assert_eq!(
        fields["status"], "CONNECTED",
        "the registration survived: {fields}"
    );
    expect_graph_error(wrong, pin_mismatch()).await;
    expect_graph_success(right).await;
    assert_eq!(state["numbers"][0]["id"], PHONE_ID, "{state}");
    assert_eq!(
        state["numbers"][0]["verified_name"], "Sandbox Business",
        "{state}"
    );
    assert_eq!(
        schema_on_disk(&app),
        1,
        "a register of a registered number writes nothing"
    );
}

#[tokio::test]
async fn the_next_change_writes_the_upgraded_state_in_the_current_schema() {
    // Arrange
    let app = on_fixture(&[]).await;

    // Act
    let login = app.login("admin", ADMIN, None).await;
    let token = expect_token(login).await;
    let schema_after = schema_on_disk(&app);
    let log = std::fs::read(app.dir.path().join("state.json.log")).expect("log");
    let app = app.restart().await;
    let state = app.sandbox_state().await;
    let old_token_health = app.health(&token).await;

    // Assert
    assert_eq!(schema_after, 2);
    assert!(
        log.is_empty(),
        "the upgrade was written as a whole snapshot"
    );
    assert_eq!(state["two_step"]["enabled"], true, "{state}");
    assert_eq!(state["account"]["registered"], true, "{state}");
    assert_eq!(state["tokens"], 3, "{state}");
    expect_status(old_token_health, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_with_the_bare_seed_marker_of_earlier_releases_still_logs_the_admin_in() {
    // Arrange: a state file as releases before the salted marker wrote it.
    let app = TestApp::with()
        .env("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")
        .start()
        .await;
    let minted = app
        .call(
            Method::POST,
            "/__sandbox/cloud/tokens",
            None,
            Some(json!({})),
        )
        .await;
    expect_status(minted, 201).await;
    let snapshot = std::fs::read_to_string(&app.state_path).expect("state.json");
    let salted = salted_marker(&snapshot).expect("the seed state holds a salted marker");
    std::fs::write(
        &app.state_path,
        snapshot.replace(&salted, "deferred:seed-admin-password"),
    )
    .expect("write state.json");

    // Act: concurrent first logins on the old marker.
    let app = app.restart().await;
    let statuses = parallel_first_logins(&[&app], 8).await;

    // Assert
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let token = app.admin_token().await;
    expect_status(
        app.call(Method::GET, "/v1/users/admin", Some(&token), None)
            .await,
        200,
    )
    .await;
}

/// The `deferred:seed-admin-password:<salt>` marker in `text`, if any.
fn salted_marker(text: &str) -> Option<String> {
    let start = text.find("deferred:seed-admin-password:")?;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_owned())
}
