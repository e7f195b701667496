//! The phone-number node: setting the PIN (replacing one needs no old PIN), the
//! default and chosen fields, and the WABA's list of numbers, each number with
//! its own status and PIN.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const SECOND: &str = "106540352242923";

/// A server whose seed adds a second, unregistered number with a PIN.
async fn two_numbers() -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let seed = dir.path().join("seed.toml");
    let text = format!(
        "[[numbers]]\nid = \"{SECOND}\"\ndisplay_phone_number = \"+1 555-0101\"\nverified_name = \"Second Shop\"\nregistered = false\npin = \"111111\"\n"
    );
    std::fs::write(&seed, text).expect("seed");
    let mut spawn = cloud_spawn()
        .arg("--seed")
        .arg(seed.to_str().expect("path"));
    spawn.dir = Some(dir);
    spawn.start().await
}

#[tokio::test]
async fn setting_the_pin_turns_two_step_on_and_a_new_pin_replaces_it_without_the_old_one() {
    let app = cloud_spawn().start().await;
    let before = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;

    let first = app
        .graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
        .await;
    let second = app
        .graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("654321"))
        .await;
    let after = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;
    let old_pin = app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let new_pin = app.graph_register(CLOUD_TOKEN, PHONE_ID, "654321").await;

    assert_eq!(before, json!({"is_pin_enabled": false, "id": PHONE_ID}));
    expect_graph_success(first).await;
    expect_graph_success(second).await;
    assert_eq!(after["is_pin_enabled"], true);
    expect_graph_error(old_pin, pin_mismatch()).await;
    expect_graph_success(new_pin).await;
}

#[tokio::test]
async fn a_number_answers_the_default_fields_or_the_ones_asked_for() {
    let app = cloud_spawn().start().await;

    let default = Reply::of(
        app.graph(Method::GET, PHONE_ID, Some(CLOUD_TOKEN))
            .send()
            .await
            .expect("get"),
    )
    .await;
    let chosen = app
        .graph_fields(
            CLOUD_TOKEN,
            PHONE_ID,
            "status,platform_type,account_mode,name_status,throughput,messaging_limit_tier,is_pin_enabled",
        )
        .await;
    let with_id = app.graph_fields(CLOUD_TOKEN, PHONE_ID, "id,status").await;
    let status_then_id = app
        .graph(
            Method::GET,
            &format!("{PHONE_ID}?fields=status"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("status");
    let status_then_id = Reply::of(status_then_id).await;

    assert_eq!(
        default.json(),
        json!({
            "code_verification_status": "VERIFIED",
            "display_phone_number": "+1 5550100",
            "id": PHONE_ID,
            "quality_rating": "GREEN",
            "verified_name": "Sandbox Business"
        })
    );
    assert_eq!(
        chosen,
        json!({
            "status": "CONNECTED", "platform_type": "CLOUD_API", "account_mode": "SANDBOX",
            "name_status": "AVAILABLE_WITHOUT_REVIEW", "throughput": {"level": "STANDARD"},
            "messaging_limit_tier": "TIER_250", "is_pin_enabled": false, "id": PHONE_ID
        })
    );
    assert!(
        status_then_id
            .text()
            .starts_with(r#"{"status":"CONNECTED","id":"#),
        "the fields in the order asked, id last: {status_then_id:?}"
    );
    assert_eq!(with_id, json!({"id": PHONE_ID, "status": "CONNECTED"}));
}

#[tokio::test]
async fn the_waba_lists_every_number_with_its_own_status() {
    let app = two_numbers().await;

    let resp = app
        .graph(
            Method::GET,
            &format!("{WABA_ID}/phone_numbers"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("list");
    let r = Reply::of(resp).await;
    let with_fields = app
        .graph(
            Method::GET,
            &format!("{WABA_ID}/phone_numbers?fields=status,is_pin_enabled"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("list fields");
    let fields = Reply::of(with_fields).await.json();
    let second = app
        .graph_fields(CLOUD_TOKEN, SECOND, "verified_name,status,is_pin_enabled")
        .await;

    assert_eq!(r.status, 200, "{r:?}");
    assert!(graph_headers_mismatch(&r).is_none(), "{r:?}");
    let body = r.json();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ids, [PHONE_ID, SECOND]);
    assert_eq!(body["data"][1]["display_phone_number"], "+1 555-0101");
    assert!(
        body["paging"]["cursors"]["before"].is_string()
            && body["paging"]["cursors"]["after"].is_string()
    );
    assert_eq!(
        fields["data"],
        json!([
            {"status": "CONNECTED", "is_pin_enabled": false, "id": PHONE_ID},
            {"status": "DISCONNECTED", "is_pin_enabled": true, "id": SECOND}
        ])
    );
    assert_eq!(
        second,
        json!({"verified_name": "Second Shop", "status": "DISCONNECTED", "is_pin_enabled": true, "id": SECOND})
    );
}

#[tokio::test]
async fn each_number_has_its_own_pin() {
    let app = two_numbers().await;

    let set_first = app
        .graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("222222"))
        .await;
    let second_with_first_pin = app.graph_register(CLOUD_TOKEN, SECOND, "222222").await;
    let second_with_its_pin = app.graph_register(CLOUD_TOKEN, SECOND, "111111").await;
    let state = app.sandbox_state().await;

    expect_graph_success(set_first).await;
    expect_graph_error(second_with_first_pin, pin_mismatch()).await;
    expect_graph_success(second_with_its_pin).await;
    let numbers: &Vec<Value> = state["numbers"].as_array().expect("numbers");
    assert_eq!(numbers.len(), 2, "{state}");
    assert_eq!(numbers[1]["registered"], true, "{state}");
}

#[tokio::test]
async fn a_reset_returns_every_number_to_the_seed() {
    let app = two_numbers().await;
    expect_graph_success(app.graph_register(CLOUD_TOKEN, SECOND, "111111").await).await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, SECOND, json!("999999"))
            .await,
    )
    .await;

    let state = expect_status(
        app.call(Method::POST, "/__sandbox/reset", None, None).await,
        200,
    )
    .await;
    let old_pin = app.graph_register(CLOUD_TOKEN, SECOND, "999999").await;
    let seed_pin = app.graph_register(CLOUD_TOKEN, SECOND, "111111").await;

    assert_eq!(state["numbers"][1]["registered"], false, "{state}");
    assert_eq!(
        state["numbers"][1]["two_step"],
        json!({"enabled": true, "updated_at": null})
    );
    expect_graph_error(old_pin, pin_mismatch()).await;
    expect_graph_success(seed_pin).await;
}

#[tokio::test]
async fn the_fields_a_client_library_asks_for_are_answered_or_left_out() {
    let app = cloud_spawn().start().await;
    // The field list pywa 4.5's get_business_phone_number sends.
    let pywa = "id,verified_name,display_phone_number,conversational_automation,status,quality_rating,quality_score,webhook_configuration,name_status,new_name_status,code_verification_status,account_mode,is_on_biz_app,is_official_business_account,is_pin_enabled,is_preverified_number,search_visibility,platform_type,throughput,eligibility_for_api_business_global_search,health_status,certificate,new_certificate,last_onboarded_time,country_code,country_dial_code,whatsapp_business_manager_messaging_limit";

    let body = app.graph_fields(CLOUD_TOKEN, PHONE_ID, pywa).await;

    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(body["is_official_business_account"], false);
    assert_eq!(body["is_pin_enabled"], false);
    assert_eq!(body["platform_type"], "CLOUD_API");
    assert!(
        body.get("certificate").is_none() && body.get("health_status").is_none(),
        "{body}"
    );
    assert_eq!(keys.len(), 14, "{body}");
}
