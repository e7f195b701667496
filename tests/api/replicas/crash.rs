//! SIGKILL of a server, in a loop, while clients write through both servers: no
//! acknowledged change is lost, and the survivor and the restarted server agree.
//! Rounds: `WA_TWOSTEP_TEST_KILL_ROUNDS` (default 3).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::support::postgres::{replica, Replicas};
use crate::support::*;

/// Writers per server in each round.
const WRITERS: usize = 3;

fn rounds() -> usize {
    std::env::var("WA_TWOSTEP_TEST_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

#[tokio::test]
async fn killing_a_server_mid_write_loses_no_acknowledged_change() {
    let mut r = Replicas::start(&[]).await;
    let admin = r.b.admin_token().await;
    let mut acknowledged = BTreeSet::new();

    for round in 0..rounds() {
        let servers = [r.a.remote(), r.b.remote()];
        let mut writers = Vec::new();
        for w in 0..2 * WRITERS {
            let server = servers[w % 2].clone();
            let admin = admin.clone();
            writers.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                // Bounded: stops at the first failure (its server was killed) or after 200.
                for n in 0..200 {
                    let name = format!("k{round}w{w}n{n}");
                    let sent = server
                        .client
                        .post(server.url("/v1/users"))
                        .bearer_auth(&admin)
                        .json(&json!({"username": name, "password": "User-Pa55!"}))
                        .send()
                        .await;
                    match sent {
                        Ok(resp) if resp.status() == 201 => ok.push(name),
                        _ => break,
                    }
                }
                ok
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        r.a.kill();
        // Writers on A stop at their failed request; B's go on to their bound.
        for writer in writers {
            acknowledged.extend(writer.await.expect("writer"));
        }
        r.a = replica(&r.url).start().await;
    }
    assert!(!acknowledged.is_empty(), "some changes were acknowledged");

    for server in [&r.a, &r.b] {
        let state = server.sandbox_state().await;
        let users: BTreeSet<String> = state["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect();
        let lost: Vec<_> = acknowledged.difference(&users).collect();
        assert!(
            lost.is_empty(),
            "acknowledged but lost on {}: {lost:?}",
            server.base
        );
    }
}
