//! Secrets stay secret, Cloud side: Cloud tokens (static, minted, expired, with
//! one scope, unknown; in the header, the query and the body) and PINs (JSON,
//! form, query, a JSON number; right and wrong at register) never appear in a
//! trace-level log line, and no reply but the mint's carries a token.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_nothing_leaked, stored_hashes, Recorder};
use crate::support::*;

const STATIC: &str = "EAAsecretsstatictoken0123456789abcdefghijk";
const UNKNOWN: &str = "EAAsecretsunknowntoken0123456789abcdefghij";
const PINS: [&str; 6] = ["583920", "640175", "719264", "802615", "913572", "274658"];

/// The scenario; returns the tokens it was issued.
async fn scenario(r: &mut Recorder<'_>) -> Vec<String> {
    let app = r.app;
    let mint = |body: Value| {
        app.request(Method::POST, "/__sandbox/cloud/tokens")
            .json(&body)
    };
    let (s, minted) = r.send("mint", mint(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, messaging) = r
        .send(
            "mint messaging",
            mint(json!({"scopes": ["whatsapp_business_messaging"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, expired) = r.send("mint expired", mint(json!({"expires_in": 0}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let token = |v: &Value| v["access_token"].as_str().expect("token").to_owned();
    let (minted, messaging, expired) = (token(&minted), token(&messaging), token(&expired));
    let number = graph_path(PHONE_ID);
    let register = graph_path(&format!("{PHONE_ID}/register"));

    let req = r
        .req(Method::POST, &number)
        .bearer_auth(STATIC)
        .json(&json!({"pin": PINS[0]}));
    assert_eq!(r.send("set PIN (JSON)", req).await.0, StatusCode::OK);
    let req = r
        .req(Method::POST, &number)
        .form(&[("pin", PINS[1]), ("access_token", minted.as_str())]);
    assert_eq!(
        r.send("set PIN (form, token in body)", req).await.0,
        StatusCode::OK
    );
    let query = format!("{number}?pin={}&access_token={minted}", PINS[2]);
    assert_eq!(
        r.send("set PIN (query)", r.req(Method::POST, &query))
            .await
            .0,
        StatusCode::OK
    );
    let body = json!({"messaging_product": "whatsapp", "pin": PINS[3]});
    let req = r
        .req(Method::POST, &register)
        .bearer_auth(&minted)
        .json(&body);
    assert_eq!(
        r.send("wrong PIN at register", req).await.0,
        StatusCode::BAD_REQUEST
    );
    let body =
        json!({"messaging_product": "whatsapp", "pin": PINS[2].parse::<u32>().expect("digits")});
    let req = r
        .req(Method::POST, &register)
        .bearer_auth(&minted)
        .json(&body);
    assert_eq!(r.send("right PIN as a number", req).await.0, StatusCode::OK);
    let req = r
        .req(Method::POST, &number)
        .bearer_auth(&messaging)
        .json(&json!({"pin": PINS[4]}));
    assert_eq!(
        r.send("PIN with one scope", req).await.0,
        StatusCode::FORBIDDEN
    );
    let req = r
        .req(Method::POST, &number)
        .bearer_auth(&expired)
        .json(&json!({"pin": PINS[4]}));
    assert_eq!(
        r.send("PIN with an expired token", req).await.0,
        StatusCode::UNAUTHORIZED
    );
    let req = r
        .req(Method::POST, &number)
        .bearer_auth(UNKNOWN)
        .json(&json!({"pin": PINS[4]}));
    assert_eq!(
        r.send("PIN with an unknown token", req).await.0,
        StatusCode::UNAUTHORIZED
    );
    let req = r
        .req(Method::POST, &number)
        .bearer_auth(STATIC)
        .json(&json!({"pin": "1234567"}));
    assert_eq!(
        r.send("seven-digit PIN", req).await.0,
        StatusCode::BAD_REQUEST
    );
    let req = r
        .req(Method::POST, &format!("{number}/deregister"))
        .header("Authorization", format!("OAuth {STATIC}"));
    assert_eq!(r.send("deregister", req).await.0, StatusCode::OK);
    let read = format!("{number}?fields=is_pin_enabled&access_token={STATIC}");
    assert_eq!(
        r.send("read (token in query)", r.req(Method::GET, &read))
            .await
            .0,
        StatusCode::OK
    );
    let body = json!({"messaging_product": "whatsapp", "pin": PINS[5]});
    let req = r
        .req(Method::POST, &register)
        .bearer_auth(STATIC)
        .json(&body);
    assert_eq!(
        r.send("another wrong PIN", req).await.0,
        StatusCode::BAD_REQUEST
    );
    vec![minted, messaging, expired]
}

#[tokio::test]
async fn no_cloud_token_pin_or_hash_appears_in_trace_logs_or_responses() {
    // Arrange
    let mut app = cloud_spawn()
        .arg("--log-format")
        .arg("json")
        .env("RUST_LOG", "trace")
        .env("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", STATIC)
        .start()
        .await;
    let mut recorder = Recorder {
        app: &app,
        log: Vec::new(),
    };

    // Act
    let tokens = scenario(&mut recorder).await;
    let exchanges = std::mem::take(&mut recorder.log);
    let hashes = stored_hashes(&app);
    let status = app.stop();
    let stderr = app.stderr();

    // Assert
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(!hashes.is_empty(), "expected PIN hashes in the state file");
    let mut secrets: Vec<(String, String)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        secrets.push((format!("minted token #{i}"), token.clone()));
    }
    secrets.push(("static token".into(), STATIC.into()));
    secrets.push(("unknown token".into(), UNKNOWN.into()));
    for pin in PINS {
        secrets.push(("PIN".into(), pin.into()));
    }
    for hash in hashes {
        secrets.push(("argon2 hash".into(), hash));
    }
    secrets.push(("argon2id hash prefix".into(), "$argon2id$".into()));
    assert_nothing_leaked(&stderr, &exchanges, &secrets);
}
