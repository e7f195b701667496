//! `wa_twostep::Sandbox`: the server embedded in a Rust test process, over real TCP.

use std::time::Duration;

use serde_json::json;
use wa_twostep::embed::EmbedError;
use wa_twostep::Sandbox;

use crate::support::*;

/// The shared HTTP helpers, pointed at `sandbox`.
fn api(sandbox: &Sandbox) -> Remote {
    Remote {
        base: sandbox.url().to_owned(),
        client: http_client(),
    }
}

#[tokio::test]
async fn an_embedded_sandbox_hands_out_a_working_admin_token() {
    let sandbox = Sandbox::start().await.expect("start");
    assert!(sandbox.url().starts_with("http://127.0.0.1:"));
    let resp = api(&sandbox)
        .set_pin(sandbox.admin_token(), json!({"pin": "123456"}))
        .await;
    expect_status(resp, 200).await;

    let state = sandbox.state().await.expect("state");
    assert!(state.two_step.enabled);
    assert!(state.two_step.updated_at.is_some());
    assert_eq!(state.tokens, 1);
    let admin = state.user("admin").expect("admin");
    assert_eq!(admin.roles, "ROLE_ADMIN");
    assert!(!admin.password_change_required);
}

#[tokio::test]
async fn an_embedded_sandbox_resets_to_its_seed() {
    let sandbox = Sandbox::start().await.expect("start");
    let resp = api(&sandbox)
        .set_pin(sandbox.admin_token(), json!({"pin": "123456"}))
        .await;
    expect_status(resp, 200).await;
    let state = sandbox.reset().await.expect("reset");
    assert!(!state.two_step.enabled);
    assert_eq!(state.tokens, 0);
    // The reset revoked the admin token along with every other.
    let resp = api(&sandbox).disable_two_step(sandbox.admin_token()).await;
    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn an_embedded_sandbox_starts_from_a_seed_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        "[[users]]\nusername = \"alice\"\npassword = \"Alice-Pa55!\"\n[two_step]\npin = \"123456\"\n",
    )
    .expect("write seed");
    let sandbox = Sandbox::builder()
        .seed_file(&seed)
        .configure(|s| s.account.registered = false)
        .start()
        .await
        .expect("start");
    let state = sandbox.state().await.expect("state");
    assert!(state.two_step.enabled);
    assert!(!state.account.registered);
    assert_eq!(state.user("alice").expect("alice").roles, "ROLE_USER");
}

#[tokio::test]
async fn an_invalid_seed_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, "[two_step]\npin = \"12345\"\n").expect("write seed");
    let err = Sandbox::builder()
        .seed_file(&seed)
        .start()
        .await
        .expect_err("a five-digit PIN is refused");
    assert!(matches!(err, EmbedError::Seed(_)), "{err:?}");
    assert!(err.to_string().contains(seed.to_str().unwrap()), "{err}");
}

#[tokio::test]
async fn no_admin_token_is_made_when_the_admin_must_change_the_password() {
    let sandbox = Sandbox::builder()
        .configure(|s| s.auth.force_password_change = true)
        .start()
        .await
        .expect("start");
    assert!(sandbox.try_admin_token().is_none());
    let state = sandbox.state().await.expect("state");
    assert_eq!(state.tokens, 0);
    assert!(state.user("admin").expect("admin").password_change_required);
}

#[tokio::test]
async fn the_control_token_is_sent_when_one_is_configured() {
    let sandbox = Sandbox::builder()
        .configure(|s| s.control.token = wa_twostep::secret::Secret::new("control-secret-1"))
        .start()
        .await
        .expect("start");
    assert_eq!(sandbox.state().await.expect("state").tokens, 1);
    let resp = http_client()
        .get(format!("{}/__sandbox/state", sandbox.url()))
        .send()
        .await
        .expect("state without token");
    expect_error(resp, 401, 1005, Some(NO_CREDENTIALS)).await;
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sandbox = Sandbox::start().await.expect("start");
    let addr = sandbox.addr();
    sandbox.shutdown().await.expect("clean shutdown");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_sandbox_stops_the_server() {
    let sandbox = Sandbox::start().await.expect("start");
    let addr = sandbox.addr();
    drop(sandbox);
    // The server task notices the drop on its next poll; no signal to wait on, so poll briefly.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{addr} still accepts connections 2 s after the sandbox was dropped");
}

#[tokio::test]
async fn an_embedded_sandbox_hands_out_a_cloud_token_that_outlives_resets() {
    let sandbox = Sandbox::start().await.expect("start");
    let api = api(&sandbox);
    let id = sandbox.phone_number_id().to_owned();

    expect_graph_success(
        api.graph_register(sandbox.cloud_token(), &id, "123456")
            .await,
    )
    .await;
    let state = sandbox.state().await.expect("state");
    sandbox.reset().await.expect("reset");
    let after_reset = api
        .graph_fields(sandbox.cloud_token(), &id, "is_pin_enabled")
        .await;

    assert!(sandbox.cloud_token().starts_with("EAA"));
    assert_eq!(id, PHONE_ID);
    assert_eq!(sandbox.waba_id(), WABA_ID);
    assert_eq!(state.cloud_tokens, 1);
    assert_eq!(state.numbers[0].id, PHONE_ID);
    assert!(
        state.numbers[0].two_step.enabled,
        "the register PIN became the PIN"
    );
    assert_eq!(state.numbers[0].registrations.used, 1);
    assert_eq!(after_reset["is_pin_enabled"], false);
    assert!(!format!("{sandbox:?}").contains(sandbox.cloud_token()));
}

#[tokio::test]
async fn an_embedded_sandbox_keeps_a_configured_cloud_token() {
    let sandbox = Sandbox::builder()
        .configure(|s| s.cloud.access_token = wa_twostep::secret::Secret::new(CLOUD_TOKEN))
        .start()
        .await
        .expect("start");

    assert_eq!(sandbox.cloud_token(), CLOUD_TOKEN);
}
