//! The `security` webhook: the three events in the Cloud envelope with a correct
//! `X-Hub-Signature-256`, a receiver answering 500 (retried, then given up and
//! listed), a closed port, and an API that does not wait for the receiver.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::webhook::Receiver;
use crate::support::*;

const APP_SECRET: &str = "app-secret-for-tests";

/// A Cloud server posting webhooks to `url`.
async fn posting_to(url: &str) -> TestApp {
    cloud_spawn()
        .env("WA_TWOSTEP_CLOUD__WEBHOOK_URL", url)
        .env("WA_TWOSTEP_CLOUD__APP_SECRET", APP_SECRET)
        .start()
        .await
}

/// The deliveries listed, once none is pending (bounded wait).
async fn settled(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let body = app.get_ok("/__sandbox/webhooks").await;
        let list = body["deliveries"].as_array().unwrap().clone();
        if list.len() >= count && list.iter().all(|d| d["status"] != "pending") {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("webhook deliveries still pending");
}

#[tokio::test]
async fn the_three_events_arrive_signed_in_the_cloud_envelope() {
    let mut receiver = Receiver::start(Some(200)).await;
    let app = posting_to(&receiver.url).await;

    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let changed = receiver.next().await;
    let link = app.manager_reset_link(PHONE_ID).await;
    let requested = receiver.next().await;
    expect_status(app.confirm_reset(&link).await, 200).await;
    let reset = receiver.next().await;
    let listed = settled(&app, 3).await;

    for r in [&changed, &requested, &reset] {
        assert!(r.signed_with(APP_SECRET), "bad signature: {r:?}");
        assert!(!r.signed_with("another-secret"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body = r.json();
        assert_eq!(body["object"], "whatsapp_business_account");
        assert_eq!(body["entry"][0]["id"], WABA_ID);
        assert!(body["entry"][0]["time"].as_i64().unwrap() > 1_600_000_000);
        assert_eq!(body["entry"][0]["changes"][0]["field"], "security");
    }
    let value =
        |r: &crate::support::webhook::Received| r.json()["entry"][0]["changes"][0]["value"].clone();
    assert_eq!(
        value(&changed),
        json!({"display_phone_number": "+1 5550100", "event": "PIN_CHANGED"})
    );
    assert_eq!(
        value(&requested),
        json!({"display_phone_number": "+1 5550100", "event": "PIN_RESET_REQUEST",
               "requester": "admin@example.com"})
    );
    assert_eq!(value(&reset)["event"], "PIN_RESET_SUCCESS");
    let events: Vec<_> = listed.iter().map(|d| d["event"].clone()).collect();
    assert_eq!(
        events,
        vec!["PIN_CHANGED", "PIN_RESET_REQUEST", "PIN_RESET_SUCCESS"]
    );
    assert!(listed
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempts"] == 1));
}

#[tokio::test]
async fn pins_set_by_register_and_the_manager_are_pin_changed_too() {
    let mut receiver = Receiver::start(Some(204)).await;
    let app = posting_to(&receiver.url).await;

    expect_graph_success(app.graph_register(CLOUD_TOKEN, PHONE_ID, "111111").await).await;
    let by_register = receiver.next().await;
    expect_status(
        app.manager_change_pin(PHONE_ID, "111111", "222222", "222222")
            .await,
        200,
    )
    .await;
    let by_manager = receiver.next().await;

    for r in [by_register, by_manager] {
        assert_eq!(
            r.json()["entry"][0]["changes"][0]["value"]["event"],
            "PIN_CHANGED"
        );
    }
}

#[tokio::test]
async fn a_receiver_answering_500_is_retried_then_given_up_and_listed() {
    let mut receiver = Receiver::start(Some(500)).await;
    let app = posting_to(&receiver.url).await;

    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let listed = settled(&app, 1).await;
    let mut tries = 0;
    while receiver.requests.try_recv().is_ok() {
        tries += 1;
    }

    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "failed", "{listed:?}");
    assert_eq!(listed[0]["attempts"], 3);
    assert_eq!(listed[0]["last_status"], 500);
    assert_eq!(listed[0]["last_error"], "HTTP 500");
    assert_eq!(tries, 3);
}

#[tokio::test]
async fn a_closed_port_is_listed_as_failed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = posting_to(&format!("http://127.0.0.1:{port}/hook")).await;

    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let listed = settled(&app, 1).await;

    assert_eq!(listed[0]["status"], "failed");
    assert_eq!(listed[0]["attempts"], 3);
    assert!(
        listed[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("connect"),
        "{listed:?}"
    );
}

#[tokio::test]
async fn the_api_does_not_wait_for_a_receiver_that_never_answers() {
    let mut receiver = Receiver::start(None).await;
    let app = posting_to(&receiver.url).await;

    let started = Instant::now();
    for pin in ["111111", "222222", "333333"] {
        expect_graph_success(app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!(pin)).await).await;
    }
    let took = started.elapsed();
    receiver.next().await;

    assert!(
        took < Duration::from_secs(2),
        "three PIN changes took {took:?}"
    );
    let body = app.get_ok("/__sandbox/webhooks").await;
    assert_eq!(body["deliveries"].as_array().unwrap().len(), 3);
    assert_eq!(body["deliveries"][0]["status"], "pending");
}
