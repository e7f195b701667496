//! Secrets stay secret, On-Premises side: a scenario touching every secret the
//! `/v1` API handles runs against a server logging JSON at `trace` level; no PIN,
//! password, token, Basic credential or argon2 hash may appear in anything it
//! printed, nor in any response (except the token a login reply issues).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_nothing_leaked, stored_hashes, Recorder};
use crate::support::*;

const SEED: &str = "Seed-Secret-77!";
const ADMIN_NEW: &str = "Admin-Chosen-Pw1!";
const WEAK: &str = "weakpassword";
const WRONG_GUESS: &str = "Wrong-Guess-42!";
const NOBODY_PASSWORD: &str = "Nobody-Pa55-x!";
const ALICE: &str = "Alice-First-Pw9!";
const ALICE_NEW: &str = "Alice-Second-Pw8!";
const PINS: [&str; 5] = ["482915", "730264", "615273", "9081726", "246813"];

/// The scenario; returns the tokens it was issued and the argon2 hashes the
/// state held at its fullest (admin, user and PIN).
async fn scenario(r: &mut Recorder<'_>) -> (Vec<String>, Vec<String>) {
    let (s, _) = r
        .login("seed login without a new password", "admin", SEED, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r
        .login("wrong admin password", "admin", WRONG_GUESS, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r
        .login("unknown user", "nobody1", NOBODY_PASSWORD, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r
        .login(
            "weak new password",
            "admin",
            SEED,
            Some(json!({"new_password": WEAK})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, admin) = r
        .login(
            "first login",
            "admin",
            SEED,
            Some(json!({"new_password": ADMIN_NEW})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let admin = admin.expect("admin token");
    let (s, admin2) = r
        .login("second admin login", "admin", ADMIN_NEW, None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let req = r
        .req(Method::POST, "/v1/users")
        .bearer_auth(&admin)
        .json(&json!({"username": "alice01", "password": ALICE}));
    assert_eq!(r.send("create user", req).await.0, StatusCode::CREATED);
    let (s, alice) = r.login("user login", "alice01", ALICE, None).await;
    assert_eq!(s, StatusCode::OK);
    let alice = alice.expect("alice token");

    for (what, pin) in [("set PIN", PINS[0]), ("change PIN", PINS[1])] {
        let req = r
            .req(Method::POST, TWO_STEP)
            .bearer_auth(&admin)
            .json(&json!({"pin": pin}));
        assert_eq!(r.send(what, req).await.0, StatusCode::OK);
    }
    let req = r
        .req(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("pin={}", PINS[2]));
    assert_eq!(r.send("form-encoded PIN", req).await.0, StatusCode::OK);
    let hashes = stored_hashes(r.app);
    let req = r
        .req(Method::POST, TWO_STEP)
        .bearer_auth(&admin)
        .json(&json!({"pin": PINS[3]}));
    assert_eq!(
        r.send("seven-digit PIN", req).await.0,
        StatusCode::BAD_REQUEST
    );
    let req = r
        .req(Method::POST, TWO_STEP)
        .bearer_auth(&alice)
        .json(&json!({"pin": PINS[4]}));
    assert_eq!(
        r.send("PIN from a non-admin", req).await.0,
        StatusCode::FORBIDDEN
    );

    let req = r
        .req(Method::PUT, "/v1/users/alice01")
        .bearer_auth(&admin)
        .json(&json!({"password": ALICE_NEW}));
    assert_eq!(r.send("change user password", req).await.0, StatusCode::OK);
    let (s, _) = r.login("old user password", "alice01", ALICE, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let req = r.req(Method::POST, "/v1/users/logout").bearer_auth(&alice);
    assert_eq!(r.send("logout", req).await.0, StatusCode::OK);
    let req = r.req(Method::GET, "/v1/health").bearer_auth(&alice);
    assert_eq!(
        r.send("revoked token", req).await.0,
        StatusCode::UNAUTHORIZED
    );
    let req = r
        .req(Method::DELETE, TWO_STEP)
        .bearer_auth(&admin)
        .json(&json!({}));
    assert_eq!(r.send("disable two-step", req).await.0, StatusCode::OK);
    let req = r
        .req(Method::DELETE, "/v1/users/alice01")
        .bearer_auth(&admin);
    assert_eq!(r.send("delete user", req).await.0, StatusCode::OK);
    let req = r.req(Method::GET, "/v1/health").bearer_auth(&admin);
    assert_eq!(r.send("health", req).await.0, StatusCode::OK);

    let tokens = [Some(admin), admin2, Some(alice)]
        .into_iter()
        .flatten()
        .collect();
    (tokens, hashes)
}

/// Every string that must never be printed, named.
fn secrets(tokens: &[String], hashes: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let credentials = [
        ("admin", SEED),
        ("admin", ADMIN_NEW),
        ("admin", WEAK),
        ("admin", WRONG_GUESS),
        ("nobody1", NOBODY_PASSWORD),
        ("alice01", ALICE),
        ("alice01", ALICE_NEW),
    ];
    for (user, password) in credentials {
        out.push((format!("password of {user}"), password.to_owned()));
        let header = basic(user, password);
        let encoded = header.strip_prefix("Basic ").expect("basic");
        out.push((format!("Basic credentials of {user}"), encoded.to_owned()));
    }
    for pin in PINS {
        out.push(("PIN".to_owned(), pin.to_owned()));
    }
    for (i, token) in tokens.iter().enumerate() {
        out.push((format!("token #{i}"), token.clone()));
    }
    for hash in hashes {
        out.push(("argon2 hash".to_owned(), hash.clone()));
    }
    out.push(("argon2id hash prefix".to_owned(), "$argon2id$".to_owned()));
    out
}

#[tokio::test]
async fn no_secret_or_hash_appears_in_trace_logs_or_responses() {
    // Arrange
    let mut app = TestApp::with()
        .arg("--log-format")
        .arg("json")
        .env("RUST_LOG", "trace")
        .env("WA_TWOSTEP_AUTH__ADMIN_PASSWORD", SEED)
        .start()
        .await;
    let mut recorder = Recorder {
        app: &app,
        log: Vec::new(),
    };

    // Act
    let (tokens, hashes) = scenario(&mut recorder).await;
    let exchanges = std::mem::take(&mut recorder.log);
    let status = app.stop();
    let stderr = app.stderr();

    // Assert
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(
        hashes.len() >= 3,
        "expected password and PIN hashes in the state file: {hashes:?}"
    );
    assert_nothing_leaked(&stderr, &exchanges, &secrets(&tokens, &hashes));
}
