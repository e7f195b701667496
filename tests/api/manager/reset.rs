//! Turn off two-step verification: the email in the outbox, its one-time link
//! (a GET changes nothing, the POST disables two-step durably, once), expiry,
//! a restart in between, a new PIN voiding it, and the outbox's own rules.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// A Cloud server whose first number has PIN 111111.
async fn with_pin() -> TestApp {
    let app = cloud_spawn().start().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    app
}

#[tokio::test]
async fn turn_off_mails_a_link_whose_post_disables_two_step_once() {
    let app = with_pin().await;

    let link = app.manager_reset_link(PHONE_ID).await;
    let emails = app.emails().await;
    let inspected = app.get(&reset_api_path(&link)).await;
    let still_on = app.manager_two_step(PHONE_ID).await;
    let used = app.confirm_reset(&link).await;
    let again = app.confirm_reset(&link).await;
    let fields = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;
    let register = app.graph_register(CLOUD_TOKEN, PHONE_ID, "999999").await;

    assert_eq!(emails.len(), 1);
    let email = &emails[0];
    assert_eq!(email["subject"], "WhatsApp Two-Step Verification Reset");
    assert_eq!(email["to"], "admin@example.com");
    assert!(email["text"].as_str().unwrap().contains(&link), "{email}");
    assert!(is_rfc3339_utc_millis(email["sent_at"].as_str().unwrap()));
    assert_eq!(email["smtp"], serde_json::Value::Null);
    let prefix = format!("{}/__sandbox/manager/reset/", app.base());
    let token = link
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{link}"));
    assert!(token.len() >= 43, "256 random bits: {token}");
    assert_eq!(
        expect_status(inspected, 200).await["number"]["id"],
        PHONE_ID
    );
    assert!(still_on, "a GET never changes state");
    assert_eq!(
        expect_status(used, 200).await["number"]["two_step_enabled"],
        false
    );
    expect_error(again, 404, 1006, Some(LINK_NOT_VALID)).await;
    assert_eq!(fields["is_pin_enabled"], false);
    expect_graph_success(register).await;
}

#[tokio::test]
async fn a_pending_link_survives_a_restart_and_only_its_digest_is_stored() {
    let app = with_pin().await;
    let link = app.manager_reset_link(PHONE_ID).await;
    let token = link.rsplit('/').next().unwrap().to_owned();

    let app = app.restart().await;
    let state_file = std::fs::read_to_string(&app.state_path).unwrap_or_default();
    let journal = std::fs::read_dir(app.dir.path())
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .any(|bytes| String::from_utf8_lossy(&bytes).contains(&token));
    let used = app.confirm_reset(&link).await;

    assert!(!state_file.contains(&token));
    assert!(!journal, "the link's token is in a file of the data dir");
    expect_status(used, 200).await;
    assert!(!app.manager_two_step(PHONE_ID).await);
}

#[tokio::test]
async fn a_new_pin_through_the_cloud_api_voids_pending_links() {
    let app = with_pin().await;
    let link = app.manager_reset_link(PHONE_ID).await;

    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("222222"))
            .await,
    )
    .await;
    let used = app.confirm_reset(&link).await;

    expect_error(used, 404, 1006, Some(LINK_NOT_VALID)).await;
    assert!(app.manager_two_step(PHONE_ID).await);
}

#[tokio::test]
async fn an_expired_link_is_refused_and_changes_nothing() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_MANAGER__RESET_LINK_TTL_SECS", "1")
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let link = app.manager_reset_link(PHONE_ID).await;

    // Expiry has a one-second resolution: wait until it has surely passed.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let inspected = app.get(&reset_api_path(&link)).await;
    let used = app.confirm_reset(&link).await;

    expect_error(inspected, 410, 1006, Some("This link has expired.")).await;
    expect_error(used, 410, 1006, Some("This link has expired.")).await;
    assert!(app.manager_two_step(PHONE_ID).await);
}

#[tokio::test]
async fn unknown_links_and_turning_off_twice_off_are_refused() {
    let app = cloud_spawn().start().await;

    let off = app.manager_turn_off(PHONE_ID).await;
    let unknown = app
        .confirm_reset("/__sandbox/manager/reset/not-a-token")
        .await;
    let unknown_number = app.manager_turn_off("42").await;

    expect_error(off, 409, 1025, Some(TWO_STEP_OFF)).await;
    expect_error(unknown, 404, 1006, Some(LINK_NOT_VALID)).await;
    expect_error(
        unknown_number,
        404,
        1006,
        Some("Phone number does not exist"),
    )
    .await;
    assert!(app.emails().await.is_empty());
}

#[tokio::test]
async fn the_outbox_keeps_the_newest_emails_and_can_be_emptied() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_MANAGER__OUTBOX_CAPACITY", "2")
        .env("WA_TWOSTEP_MANAGER__BUSINESS_EMAIL", "owner@shop.example")
        .env(
            "WA_TWOSTEP_SERVER__PUBLIC_URL",
            "https://sandbox.example/wa",
        )
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let mut links = Vec::new();
    for _ in 0..3 {
        links.push(app.manager_reset_link(PHONE_ID).await);
    }

    let kept = app.emails().await;
    let cleared = app
        .call(reqwest::Method::DELETE, "/__sandbox/emails", None, None)
        .await;
    let after = app.emails().await;

    let kept_links: Vec<_> = kept.iter().map(|e| e["link"].as_str().unwrap()).collect();
    assert_eq!(kept_links, vec![links[1].as_str(), links[2].as_str()]);
    assert_eq!(kept[0]["to"], "owner@shop.example");
    assert!(
        links[0].starts_with("https://sandbox.example/wa/__sandbox/manager/reset/"),
        "{}",
        links[0]
    );
    assert_eq!(expect_status(cleared, 200).await, json!({"emails": []}));
    assert!(after.is_empty());
}
