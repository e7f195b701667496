//! The database stopped mid-run: requests that need state get 503 / 1016,
//! `/__sandbox/health` turns 503 naming the database (never its password), and
//! service returns by itself once the database is back, with nothing lost and
//! nothing half-done.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::postgres::{eventually, Replicas, PG_PASSWORD};
use crate::support::*;

/// Details of the 503 / 1016 while the database is unreachable.
const UNREACHABLE: &str = "The sandbox's state database is unreachable; retry later";

#[tokio::test]
async fn a_stopped_database_is_503_then_service_returns_by_itself() {
    let mut r = Replicas::start(&[]).await;
    let token = r.a.admin_token().await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;

    r.pg.stop();

    for server in [&r.a, &r.b] {
        expect_error(server.health(&token).await, 503, 1016, Some(UNREACHABLE)).await;
        let change = server.set_pin(&token, json!({"pin": "999999"})).await;
        expect_error(change, 503, 1016, Some(UNREACHABLE)).await;
        let login = server.login("admin", ADMIN_PASSWORD, None).await;
        expect_error(login, 503, 1016, Some(UNREACHABLE)).await;
        let probe = Reply::of(server.get("/__sandbox/health").await).await;
        let body = assert_status(&probe, 503);
        assert_eq!(body["status"], json!("unavailable"), "{body}");
        let reason = body["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("sandbox"),
            "the reason names the database: {reason}"
        );
        assert!(
            !reason.contains(PG_PASSWORD),
            "never the password: {reason}"
        );
        // The per-server registries still answer.
        expect_status(server.get("/__sandbox/requests").await, 200).await;
    }
    assert!(
        !r.a.stderr().contains(PG_PASSWORD),
        "logs never show the password"
    );

    r.pg.start_again();

    for server in [&r.a, &r.b] {
        assert!(
            health_becomes(server, 200).await,
            "health is 200 again once the database is back"
        );
        expect_status(server.health(&token).await, 200).await;
    }
    // The change refused during the outage did not happen; the earlier one holds.
    let wrong = r.b.register_number(&token, Some("999999")).await;
    expect_error(wrong, 400, 1009, Some("Two-step verification PIN mismatch")).await;
    expect_status(r.b.register_number(&token, Some("246810")).await, 201).await;
    // And changes go through again, on both.
    expect_status(r.b.set_pin(&token, json!({"pin": "112233"})).await, 200).await;
    expect_status(r.a.register_number(&token, Some("112233")).await, 201).await;
    let logout =
        r.a.call(Method::POST, "/v1/users/logout", Some(&token), None)
            .await;
    expect_status(logout, 200).await;
}

#[tokio::test]
async fn the_first_change_after_a_database_restart_goes_through() {
    let mut r = Replicas::start(&[]).await;
    let token = r.a.admin_token().await;
    expect_status(r.a.set_pin(&token, json!({"pin": "246810"})).await, 200).await;
    expect_status(r.b.set_pin(&token, json!({"pin": "246811"})).await, 200).await;

    // An administrator's restart while no change is attempted: each server's
    // writer connection is idle through it and reads the shutdown notice only at
    // its next batch.
    r.pg.stop_fast();
    for server in [&r.a, &r.b] {
        assert!(
            health_becomes(server, 503).await,
            "health turns 503 while the database is stopped"
        );
    }
    r.pg.start_again();
    for server in [&r.a, &r.b] {
        assert!(
            health_becomes(server, 200).await,
            "health is 200 again once the database is back"
        );
    }

    // Health said 200: the very first change on each server must be served.
    expect_status(r.a.set_pin(&token, json!({"pin": "112233"})).await, 200).await;
    expect_status(r.b.set_pin(&token, json!({"pin": "445566"})).await, 200).await;
    expect_status(r.a.register_number(&token, Some("445566")).await, 201).await;
}

#[tokio::test]
async fn an_idle_server_reports_the_outage_on_its_health_probe() {
    let mut r = Replicas::start(&[]).await;
    r.a.assert_probe_ok().await;
    r.pg.stop();
    let down = eventually(Duration::from_secs(10), || async {
        r.a.get("/__sandbox/health").await.status() == 503
    })
    .await;
    assert!(down, "health turns 503 without any other request");
}

/// Whether `server`'s `/__sandbox/health` answers `status` within 15 s.
async fn health_becomes(server: &TestApp, status: u16) -> bool {
    eventually(Duration::from_secs(15), || async {
        server.get("/__sandbox/health").await.status() == status
    })
    .await
}
