//! Each row of the Cloud error table, in the Graph envelope with its headers:
//! token errors, unknown objects and paths, a missing scope, parameter errors, a
//! body over the limit, a wrong PIN, and the two budgets. Expiry is in
//! `control::cloud_tokens`, overload and write failures in `reliability`.

use std::path::Path;
use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// A token with only the messaging scope, declared by a seed file.
const MESSAGING_ONLY: &str = "EAAmessagingonly0123456789abcdefghijklmn";

/// A server whose seed file declares [`MESSAGING_ONLY`].
async fn with_messaging_token() -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let seed = dir.path().join("seed.toml");
    let text = format!(
        "[[cloud_tokens]]\ntoken = \"{MESSAGING_ONLY}\"\nscopes = [\"whatsapp_business_messaging\"]\n"
    );
    std::fs::write(&seed, text).expect("seed");
    let mut spawn = cloud_spawn().arg("--seed").arg(path_str(&seed));
    spawn.dir = Some(dir);
    spawn.start().await
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

#[tokio::test]
async fn token_errors_are_104_and_190() {
    let app = cloud_spawn().start().await;

    let none = app
        .graph(Method::POST, PHONE_ID, None)
        .send()
        .await
        .expect("no token");
    let unknown = app
        .graph(Method::POST, PHONE_ID, Some("EAAnotatokenofthisserver"))
        .send()
        .await
        .expect("unknown");
    let basic_auth = app
        .graph(Method::GET, PHONE_ID, None)
        .header("Authorization", basic("admin", "secret"))
        .send()
        .await
        .expect("basic");
    let onprem = app.admin_token().await;
    let onprem_token = app
        .graph(Method::GET, PHONE_ID, Some(&onprem))
        .send()
        .await
        .expect("on-prem token");

    expect_graph_error(none, no_token()).await;
    expect_graph_error(unknown, bad_token()).await;
    expect_graph_error(basic_auth, no_token()).await;
    expect_graph_error(onprem_token, bad_token()).await;
}

#[tokio::test]
async fn an_unknown_object_and_an_unsupported_method_are_100_33() {
    let app = cloud_spawn().start().await;

    let unknown = app.graph_set_pin(CLOUD_TOKEN, "999", json!("123456")).await;
    let get_unknown = app
        .graph(Method::GET, "999", Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("get");
    let delete = app
        .graph(Method::DELETE, PHONE_ID, Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("delete");
    let get_register = app
        .graph(
            Method::GET,
            &format!("{PHONE_ID}/register"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("get register");
    let waba_node = app
        .graph(Method::GET, WABA_ID, Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("waba");

    expect_graph_error(unknown, unsupported("post", "999")).await;
    expect_graph_error(get_unknown, unsupported("get", "999")).await;
    expect_graph_error(delete, unsupported("delete", PHONE_ID)).await;
    expect_graph_error(get_register, unsupported("get", PHONE_ID)).await;
    expect_graph_error(waba_node, unsupported("get", WABA_ID)).await;
}

#[tokio::test]
async fn an_unknown_path_under_a_known_object_is_2500() {
    let app = cloud_spawn().start().await;

    let edge = app
        .graph(Method::POST, &format!("{PHONE_ID}/pin"), Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("edge");
    let deeper = app
        .graph(
            Method::POST,
            &format!("{PHONE_ID}/register/now"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("deeper");
    let waba_edge = app
        .graph(
            Method::GET,
            &format!("{WABA_ID}/templates"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("waba edge");

    expect_graph_error(edge, unknown_path("/pin")).await;
    expect_graph_error(deeper, unknown_path("/register/now")).await;
    expect_graph_error(waba_edge, unknown_path("/templates")).await;
}

#[tokio::test]
async fn a_token_without_the_management_scope_is_403_200_on_every_route() {
    let app = with_messaging_token().await;

    let set = app
        .graph_set_pin(MESSAGING_ONLY, PHONE_ID, json!("123456"))
        .await;
    let read = app
        .graph(Method::GET, PHONE_ID, Some(MESSAGING_ONLY))
        .send()
        .await
        .expect("read");
    let register = app.graph_register(MESSAGING_ONLY, PHONE_ID, "123456").await;
    let deregister = app.graph_deregister(MESSAGING_ONLY, PHONE_ID).await;
    let list = app
        .graph(
            Method::GET,
            &format!("{WABA_ID}/phone_numbers"),
            Some(MESSAGING_ONLY),
        )
        .send()
        .await
        .expect("list");
    let state = app.sandbox_state().await;

    for resp in [set, read, register, deregister, list] {
        expect_graph_error(resp, no_permission()).await;
    }
    assert_eq!(
        state["two_step"]["enabled"], false,
        "nothing changed: {state}"
    );
    assert_eq!(
        state["account"]["registered"], true,
        "nothing changed: {state}"
    );
}

#[tokio::test]
async fn parameter_errors_are_100_with_the_graph_wording() {
    let app = cloud_spawn().start().await;
    let register = |body: serde_json::Value| {
        app.graph(
            Method::POST,
            &format!("{PHONE_ID}/register"),
            Some(CLOUD_TOKEN),
        )
        .json(&body)
        .send()
    };

    let cases = [
        (app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!(null)).await, missing("pin")),
        (app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("12345")).await, pin_length()),
        (app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("1234567")).await, pin_length()),
        (app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!(12345)).await, pin_length()),
        (app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("12 456")).await, pin_digits()),
        (app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("١٢٣٤٥٦")).await, pin_digits()),
        (register(json!({"pin": "123456"})).await.expect("register"), missing("messaging_product")),
        (register(json!({"messaging_product": "whatsapp"})).await.expect("register"), missing("pin")),
        (
            register(json!({"messaging_product": "sms", "pin": "123456"})).await.expect("register"),
            invalid("Param messaging_product must be 'whatsapp'"),
        ),
        (
            register(json!({"messaging_product": "whatsapp", "pin": "123456", "data_localization_region": "Germany"}))
                .await
                .expect("register"),
            invalid("Param data_localization_region must be"),
        ),
    ];
    let fields = app
        .graph(
            Method::GET,
            &format!("{PHONE_ID}?fields=status,pin"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("fields");
    let malformed = app
        .graph(Method::POST, PHONE_ID, Some(CLOUD_TOKEN))
        .header("Content-Type", "application/json")
        .body("{\"pin\":")
        .send()
        .await
        .expect("malformed");

    for (resp, want) in cases {
        expect_graph_error(resp, want).await;
    }
    expect_graph_error(
        fields,
        Want::new(400, 100, "(#100) Tried accessing nonexisting field (pin) on node type (WhatsAppBusinessPhoneNumber)"),
    )
    .await;
    expect_graph_error(malformed, invalid("Unable to decode the request: ")).await;
    assert_eq!(app.sandbox_state().await["two_step"]["enabled"], false);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_100() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "64")
        .start()
        .await;

    let resp = app
        .graph(Method::POST, PHONE_ID, Some(CLOUD_TOKEN))
        .json(&json!({"pin": "123456", "pad": "x".repeat(100)}))
        .send()
        .await
        .expect("big");

    expect_graph_error(
        resp,
        Want::new(413, 100, "(#100) Invalid parameter").details("Request body exceeds 64 bytes"),
    )
    .await;
}

#[tokio::test]
async fn an_error_echoing_control_or_non_ascii_characters_keeps_its_www_authenticate() {
    let app = cloud_spawn().start().await;

    for (query, field) in [
        ("a%0Ab", "a\nb"),
        ("a%0D%0Ab", "a\r\nb"),
        ("caf%C3%A9", "café"),
    ] {
        let resp = app
            .request(Method::GET, &format!("/v22.0/{PHONE_ID}?fields={query}"))
            .bearer_auth(CLOUD_TOKEN)
            .send()
            .await
            .expect("fields");
        let message = format!(
            "(#100) Tried accessing nonexisting field ({field}) on node type (WhatsAppBusinessPhoneNumber)"
        );
        // The body keeps the field as asked; the header (checked by the helper)
        // drops what a header cannot hold.
        expect_graph_error(resp, Want::new(400, 100, message)).await;
    }
}

#[tokio::test]
async fn a_wrong_pin_is_133005_and_past_the_guess_budget_133008() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "2")
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
            .await,
    )
    .await;

    let first = app.graph_register(CLOUD_TOKEN, PHONE_ID, "000001").await;
    let second = app.graph_register(CLOUD_TOKEN, PHONE_ID, "000002").await;
    let right_but_blocked = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;

    expect_graph_error(first, pin_mismatch()).await;
    expect_graph_error(second, pin_mismatch()).await;
    let body = expect_graph_error(right_but_blocked, too_many_guesses()).await;
    let details = body["error"]["error_data"]["details"]
        .as_str()
        .unwrap_or_default();
    assert!(details.ends_with("Try again in 60 minutes."), "{details}");
}

#[tokio::test]
async fn with_two_step_off_a_used_up_guess_budget_does_not_block_register() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "1")
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
            .await,
    )
    .await;
    expect_graph_error(
        app.graph_register(CLOUD_TOKEN, PHONE_ID, "000001").await,
        pin_mismatch(),
    )
    .await;
    expect_graph_error(
        app.graph_register(CLOUD_TOKEN, PHONE_ID, "000002").await,
        too_many_guesses(),
    )
    .await;

    // The business turns two-step off (WhatsApp Manager's reset, here the
    // On-Premises DELETE on the same number): register sets the new PIN.
    let admin = app.admin_token().await;
    expect_status(app.disable_two_step(&admin).await, 200).await;
    expect_graph_success(app.graph_register(CLOUD_TOKEN, PHONE_ID, "424242").await).await;

    let view = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;
    assert_eq!(view["is_pin_enabled"], true, "register set the PIN: {view}");
    // That PIN now guards the number, and the used-up budget applies again.
    expect_graph_error(
        app.graph_register(CLOUD_TOKEN, PHONE_ID, "424242").await,
        too_many_guesses(),
    )
    .await;
}

#[tokio::test]
async fn past_the_register_budget_register_and_deregister_are_133016() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_CLOUD__MAX_REGISTRATIONS", "3")
        .start()
        .await;

    let a = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let b = app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await;
    let c = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let d = app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await;
    let e = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let status = app.graph_fields(CLOUD_TOKEN, PHONE_ID, "status").await;

    for ok in [a, b, c] {
        expect_graph_success(ok).await;
    }
    expect_graph_error(d, too_many_registrations()).await;
    expect_graph_error(e, too_many_registrations()).await;
    assert_eq!(
        status["status"], "CONNECTED",
        "the refused deregister changed nothing"
    );
}
