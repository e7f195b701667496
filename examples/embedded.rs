//! Starts wa-twostep inside this process, enables two-step verification with a
//! PIN over HTTP, prints the sandbox state, and stops the server.
//!
//! `cargo run --example embedded`

use wa_twostep::Sandbox;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    println!("wa-twostep running at {}", sandbox.url());

    let resp = reqwest::Client::new()
        .post(format!("{}/v1/settings/account/two-step", sandbox.url()))
        .bearer_auth(sandbox.admin_token())
        .json(&serde_json::json!({"pin": "123456"}))
        .send()
        .await?;
    println!("POST /v1/settings/account/two-step -> {}", resp.status());
    if !resp.status().is_success() {
        return Err(format!("setting the PIN failed: {}", resp.text().await?).into());
    }

    let state = sandbox.state().await?;
    println!("{state:#?}");
    if !state.two_step.enabled {
        return Err("two-step should be enabled".into());
    }

    sandbox.shutdown().await?;
    Ok(())
}
