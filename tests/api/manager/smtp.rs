//! With `manager.smtp_url` the reset email is also delivered over SMTP, and the
//! outbox shows how that went; a dead SMTP server never fails the request.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::smtp::SmtpServer;
use crate::support::*;

/// The first email once its SMTP delivery is no longer pending (bounded wait).
async fn settled_email(app: &TestApp) -> Value {
    for _ in 0..100 {
        let emails = app.emails().await;
        if emails.first().is_some_and(|e| e["smtp"] != "pending") {
            return emails[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("SMTP delivery still pending");
}

#[tokio::test]
async fn the_reset_email_is_delivered_over_smtp_too() {
    let mut server = SmtpServer::start().await;
    let app = cloud_spawn()
        .env("WA_TWOSTEP_MANAGER__SMTP_URL", &server.url)
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;

    let link = app.manager_reset_link(PHONE_ID).await;
    let mail = server.next().await;
    let email = settled_email(&app).await;

    assert_eq!(mail.rcpt, "admin@example.com");
    assert!(mail
        .data
        .contains("Subject: WhatsApp Two-Step Verification Reset\r\n"));
    assert!(mail.data.contains(&link), "{}", mail.data);
    assert_eq!(email["smtp"], "delivered");
    assert_eq!(email["smtp_error"], Value::Null);
}

#[tokio::test]
async fn a_dead_smtp_server_never_fails_the_request_and_shows_in_the_outbox() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = cloud_spawn()
        .env(
            "WA_TWOSTEP_MANAGER__SMTP_URL",
            format!("smtp://127.0.0.1:{port}"),
        )
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;

    let link = app.manager_reset_link(PHONE_ID).await;
    let email = settled_email(&app).await;

    assert_eq!(email["link"], link.as_str());
    assert_eq!(email["smtp"], "failed");
    assert!(
        email["smtp_error"].as_str().unwrap().contains("connect"),
        "{email}"
    );
    // Log lines reach stderr a moment after the work they report: wait for it.
    assert!(app
        .stderr_containing("email not delivered over SMTP")
        .await
        .is_some());
}
