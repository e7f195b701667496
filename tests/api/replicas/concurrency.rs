//! Concurrent changes through both servers lose nothing that was acknowledged:
//! user creations, logins (their tokens) and PIN changes.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::postgres::Replicas;
use crate::support::*;

/// Clients per server.
const CLIENTS: usize = 6;
/// Changes each client makes, one after another.
const ROUNDS: usize = 5;

#[tokio::test]
async fn concurrent_creations_logins_and_pin_changes_through_both_lose_nothing() {
    // Checking which PIN is in force tries every acknowledged one.
    let r = Replicas::start(&[("WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES", "1000")]).await;
    let admin = r.a.admin_token().await;
    let servers = [r.a.remote(), r.b.remote()];

    let mut tasks = Vec::new();
    for client in 0..2 * CLIENTS {
        let server = servers[client % 2].clone();
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move {
            let mut created = Vec::new();
            let mut tokens = Vec::new();
            let mut pins = Vec::new();
            for round in 0..ROUNDS {
                let name = format!("user{client:02}r{round}");
                let resp = server
                    .call(
                        reqwest::Method::POST,
                        "/v1/users",
                        Some(&admin),
                        Some(json!({"username": name, "password": "User-Pa55!"})),
                    )
                    .await;
                expect_status(resp, 201).await;
                created.push(name.clone());
                tokens.push(expect_token(server.login(&name, "User-Pa55!", None).await).await);
                let pin = format!("{:06}", 100_000 + client * 100 + round);
                expect_status(server.set_pin(&admin, json!({"pin": pin})).await, 200).await;
                pins.push(pin);
            }
            (created, tokens, pins)
        }));
    }
    let (mut created, mut tokens, mut pins) = (BTreeSet::new(), Vec::new(), BTreeSet::new());
    for task in tasks {
        let (c, t, p) = task.await.expect("client task");
        created.extend(c);
        tokens.extend(t);
        pins.extend(p);
    }

    for server in [&r.a, &r.b] {
        let state = server.sandbox_state().await;
        let users: BTreeSet<String> = state["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .filter(|u| u != "admin")
            .collect();
        assert_eq!(
            users, created,
            "every acknowledged user exists on {}",
            server.base
        );
        for token in &tokens {
            expect_status(server.health(token).await, 200).await;
        }
    }
    // The PIN in force is one of the acknowledged ones, and the same on both.
    let mut in_force = Vec::new();
    for pin in &pins {
        let resp = r.a.register_number(&admin, Some(pin)).await;
        if resp.status() == 201 {
            in_force.push(pin.clone());
        }
    }
    assert_eq!(
        in_force.len(),
        1,
        "exactly one acknowledged PIN is in force: {in_force:?}"
    );
    expect_status(r.b.register_number(&admin, Some(&in_force[0])).await, 201).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_logins_of_the_seed_admin_through_both_servers_at_once_all_succeed() {
    // Each server hashes the seed password on first use; the two must agree on the
    // hash, or the login that commits second is refused with the right password.
    let r = Replicas::start(&[("WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE", "false")]).await;
    let statuses = parallel_first_logins(&[&r.a, &r.b], 16).await;
    assert!(statuses.iter().all(|s| *s == 200), "fresh: {statuses:?}");

    let reset =
        r.a.call(reqwest::Method::POST, "/__sandbox/reset", None, None)
            .await;
    expect_status(reset, 200).await;
    let statuses = parallel_first_logins(&[&r.a, &r.b], 16).await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "after a reset: {statuses:?}"
    );
}
