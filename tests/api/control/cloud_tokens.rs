//! Cloud tokens in one command: `POST /__sandbox/cloud/tokens` mints a token
//! (scopes, expiry) that works at once, durably, stored as a digest only; expiry
//! is 190 / 463; a reset returns to the seed's tokens while the static
//! `cloud.access_token` stays. Budgets show in the state view and a reset clears them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn mint(app: &TestApp, body: Option<Value>) -> Value {
    let resp = app
        .call(Method::POST, "/__sandbox/cloud/tokens", None, body)
        .await;
    expect_status(resp, 201).await
}

fn token_of(minted: &Value) -> String {
    minted["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

#[tokio::test]
async fn a_minted_token_works_at_once_survives_a_restart_and_is_stored_as_a_digest() {
    let app = TestApp::spawn().await;

    let minted = mint(&app, None).await;
    let token = token_of(&minted);
    let read = app
        .graph(Method::GET, PHONE_ID, Some(&token))
        .send()
        .await
        .expect("read");
    let state = app.sandbox_state().await;
    let on_disk = std::fs::read_to_string(&app.state_path).expect("state file")
        + &std::fs::read_to_string(app.dir.path().join("state.json.log")).unwrap_or_default();
    let app = app.restart().await;
    let after_restart = app
        .graph(Method::GET, PHONE_ID, Some(&token))
        .send()
        .await
        .expect("again");

    assert!(token.starts_with("EAA") && token.len() >= 47, "{minted}");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{minted}");
    assert_eq!(
        minted["scopes"],
        json!([
            "whatsapp_business_management",
            "whatsapp_business_messaging"
        ])
    );
    assert_eq!(minted["expires_at"], Value::Null);
    assert_eq!(Reply::of(read).await.status, 200);
    assert_eq!(state["cloud_tokens"], 1, "{state}");
    assert!(
        !on_disk.contains(&token),
        "the token itself was written to disk"
    );
    assert_eq!(Reply::of(after_restart).await.status, 200);
}

#[tokio::test]
async fn scopes_and_expiry_are_honoured() {
    let app = TestApp::spawn().await;

    let messaging = token_of(
        &mint(
            &app,
            Some(json!({"scopes": ["whatsapp_business_messaging"]})),
        )
        .await,
    );
    let expired = mint(&app, Some(json!({"expires_in": 0}))).await;
    let hour = mint(&app, Some(json!({"expires_in": 3600}))).await;
    let refused = app
        .graph_set_pin(&messaging, PHONE_ID, json!("123456"))
        .await;
    let late = app
        .graph(Method::GET, PHONE_ID, Some(&token_of(&expired)))
        .send()
        .await
        .expect("late");
    let in_time = app
        .graph(Method::GET, PHONE_ID, Some(&token_of(&hour)))
        .send()
        .await
        .expect("in time");

    expect_graph_error(refused, no_permission()).await;
    let r = Reply::of(late).await;
    let body = r.json();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expected_prefix = "Error validating access token: Session has expired on ";
    assert!(
        message.starts_with(expected_prefix) && message.contains(" UTC. The current time is "),
        "{message}"
    );
    let want = Want::new(401, 190, message.clone()).subcode(463);
    assert_graph_error(&r, &want);
    assert!(
        is_rfc3339_utc_millis(hour["expires_at"].as_str().unwrap_or_default()),
        "{hour}"
    );
    assert!(
        is_rfc3339_utc_millis(expired["expires_at"].as_str().unwrap_or_default()),
        "{expired}"
    );
    assert_eq!(Reply::of(in_time).await.status, 200);
    assert_eq!(
        app.sandbox_state().await["cloud_tokens"],
        2,
        "the expired one is not live"
    );
}

#[tokio::test]
async fn bad_mint_requests_are_refused_in_the_control_plane_envelope() {
    let app = TestApp::spawn().await;
    let post = |body: Value| app.call(Method::POST, "/__sandbox/cloud/tokens", None, Some(body));

    let scope = post(json!({"scopes": ["ads_management"]})).await;
    let none = post(json!({"scopes": []})).await;
    let expiry = post(json!({"expires_in": -5})).await;
    let unknown = post(json!({"scope": "x"})).await;
    let form = app
        .request(Method::POST, "/__sandbox/cloud/tokens")
        .form(&[
            ("scopes", "whatsapp_business_management"),
            ("expires_in", "60"),
        ])
        .send()
        .await
        .expect("form");

    let scopes_rule = "Parameter 'scopes' must list one or more of whatsapp_business_management, whatsapp_business_messaging";
    expect_error(scope, 400, 1009, Some(scopes_rule)).await;
    expect_error(none, 400, 1009, Some(scopes_rule)).await;
    expect_error(
        expiry,
        400,
        1009,
        Some("Parameter 'expires_in' must be an integer from 0 to 315360000"),
    )
    .await;
    expect_error(unknown, 400, 1010, Some("Unknown parameter 'scope'")).await;
    let minted = expect_status(form, 201).await;
    assert_eq!(minted["scopes"], json!(["whatsapp_business_management"]));
}

#[tokio::test]
async fn minting_needs_the_control_token_when_one_is_set() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;

    let without = app
        .call(Method::POST, "/__sandbox/cloud/tokens", None, None)
        .await;
    let with = app
        .call(
            Method::POST,
            "/__sandbox/cloud/tokens",
            Some(CONTROL_TOKEN),
            None,
        )
        .await;

    expect_error(without, 401, 1005, Some(NO_CREDENTIALS)).await;
    expect_status(with, 201).await;
}

#[tokio::test]
async fn a_reset_drops_minted_tokens_and_keeps_the_static_one() {
    let app = cloud_spawn().start().await;
    let minted = token_of(&mint(&app, None).await);

    let state = expect_status(
        app.call(Method::POST, "/__sandbox/reset", None, None).await,
        200,
    )
    .await;
    let minted_after = app
        .graph(Method::GET, PHONE_ID, Some(&minted))
        .send()
        .await
        .expect("minted");
    let static_after = app
        .graph(Method::GET, PHONE_ID, Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("static");

    assert_eq!(state["cloud_tokens"], 1, "only the static token: {state}");
    expect_graph_error(minted_after, bad_token()).await;
    assert_eq!(Reply::of(static_after).await.status, 200);
}

#[tokio::test]
async fn budgets_show_in_the_state_and_a_reset_clears_them() {
    let app = cloud_spawn().start().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
            .await,
    )
    .await;
    expect_graph_error(
        app.graph_register(CLOUD_TOKEN, PHONE_ID, "000000").await,
        pin_mismatch(),
    )
    .await;
    expect_graph_success(app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await).await;

    let before = app.sandbox_state().await;
    let after = expect_status(
        app.call(Method::POST, "/__sandbox/reset", None, None).await,
        200,
    )
    .await;

    let number = &before["numbers"][0];
    assert_eq!(
        number["pin_guesses"],
        json!({"used": 1, "limit": 10}),
        "{before}"
    );
    assert_eq!(
        number["registrations"],
        json!({"used": 2, "limit": 10}),
        "{before}"
    );
    assert_eq!(number["registered"], false, "{before}");
    assert_eq!(
        after["numbers"][0],
        first_number_view(true, false),
        "{after}"
    );
}
