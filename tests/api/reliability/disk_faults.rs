//! Disk faults through HTTP: the state write failing at any step answers
//! 500 / 1014, leaves the served state as it was, and a restart shows the last
//! acknowledged state (for a Cloud change: 500 / 131000 in the Graph envelope).
//! Runs the server in-process so the write path can be broken at an exact step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use wa_twostep::store::WriteStep;

use crate::support::inproc::{self, InProc};
use crate::support::*;

fn fail_once(step: WriteStep) -> wa_twostep::store::FailHook {
    let fired = AtomicBool::new(false);
    Arc::new(move |s| {
        if s == step && !fired.swap(true, Ordering::SeqCst) {
            Err(std::io::Error::other("injected disk fault"))
        } else {
            Ok(())
        }
    })
}

#[tokio::test]
async fn a_failed_snapshot_write_at_any_step_answers_500_and_changes_nothing() {
    for step in [
        WriteStep::CreateTemp,
        WriteStep::WriteTemp,
        WriteStep::SyncTemp,
        WriteStep::Rename,
        WriteStep::SyncDir,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let app = inproc::build(inproc::settings_at(&path)).await;
        // The first change (the first login) writes the first snapshot.
        app.inject_write_failures(fail_once(step));
        let server = InProc::serve(app);
        let before = server.sandbox_state().await;

        let resp = server.first_login().await;

        let body = expect_error(resp, 500, 1014, None).await;
        assert!(
            body["errors"][0].get("details").is_none(),
            "{step:?}: the cause leaked: {body}"
        );
        assert_eq!(
            server.sandbox_state().await,
            before,
            "{step:?}: the served state changed"
        );
        server.stop().await;
        let server = InProc::start(inproc::settings_at(&path)).await;
        assert_eq!(
            server.sandbox_state().await,
            before,
            "{step:?}: a restart shows a change that failed"
        );
        expect_status(server.first_login().await, 200).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_failed_log_append_at_any_step_answers_500_and_changes_nothing() {
    for step in [WriteStep::AppendLog, WriteStep::SyncLog] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let app = inproc::build(inproc::settings_at(&path)).await;
        let server = InProc::serve(app);
        let login = expect_status(server.first_login().await, 200).await;
        let token = login["users"][0]["token"].as_str().unwrap().to_owned();
        let pin = Some(json!({"pin": "123456"}));
        expect_status(
            server.call(Method::POST, TWO_STEP, Some(&token), pin).await,
            200,
        )
        .await;
        server.stop().await;
        let app = inproc::build(inproc::settings_at(&path)).await;
        app.inject_write_failures(fail_once(step));
        let server = InProc::serve(app);
        let before = server.sandbox_state().await;

        let resp = server
            .call(Method::DELETE, TWO_STEP, Some(&token), None)
            .await;

        expect_error(resp, 500, 1014, None).await;
        assert_eq!(
            server.sandbox_state().await,
            before,
            "{step:?}: the served state changed"
        );
        assert_eq!(before["two_step"]["enabled"], true);
        server.stop().await;
        let server = InProc::start(inproc::settings_at(&path)).await;
        assert_eq!(
            server.sandbox_state().await,
            before,
            "{step:?}: a restart shows a change that failed"
        );
        let resp = server
            .call(Method::DELETE, TWO_STEP, Some(&token), None)
            .await;
        expect_status(resp, 200).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_failed_write_of_a_cloud_change_answers_500_131000_and_changes_nothing() {
    for step in [WriteStep::WriteTemp, WriteStep::SyncDir] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut settings = inproc::settings_at(&path);
        settings.cloud.access_token = wa_twostep::secret::Secret::new(CLOUD_TOKEN);
        let app = inproc::build(settings.clone()).await;
        app.inject_write_failures(fail_once(step));
        let server = InProc::serve(app);
        let before = server.sandbox_state().await;

        let set = server
            .graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("123456"))
            .await;
        let after_set = server.sandbox_state().await;
        let register = server.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;

        expect_graph_error(
            set,
            Want::new(500, 131000, "(#131000) Something went wrong")
                .details("Something went wrong."),
        )
        .await;
        assert_eq!(after_set, before, "{step:?}: the served state changed");
        expect_graph_success(register).await;
        server.stop().await;
        let server = InProc::start(settings).await;
        let fields = server
            .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
            .await;
        assert_eq!(
            fields["is_pin_enabled"], true,
            "{step:?}: the later register's PIN is durable"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_register_whose_write_fails_did_not_happen_and_takes_nothing_from_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = inproc::settings_at(&dir.path().join("state.json"));
    settings.cloud.max_registrations = 1;
    let app = inproc::build(settings).await;
    app.inject_write_failures(fail_once(WriteStep::WriteTemp));
    let server = InProc::serve(app);

    let failed = server.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let state = server.sandbox_state().await;
    let retried = server.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await;
    let after = server.sandbox_state().await;

    expect_graph_error(
        failed,
        Want::new(500, 131000, "(#131000) Something went wrong").details("Something went wrong."),
    )
    .await;
    let number = &state["numbers"][0];
    assert_eq!(number["two_step"]["enabled"], false, "{state}");
    assert_eq!(number["registrations"]["used"], 0, "{state}");
    expect_graph_success(retried).await;
    assert_eq!(after["numbers"][0]["registrations"]["used"], 1, "{after}");
    server.stop().await;
}

#[tokio::test]
async fn a_manager_form_whose_write_fails_answers_a_500_page_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = inproc::build(inproc::settings_at(&dir.path().join("state.json"))).await;
    app.inject_write_failures(fail_once(WriteStep::WriteTemp));
    let server = InProc::serve(app);
    let set_pin = || {
        server
            .request(
                Method::POST,
                &format!("/__sandbox/manager/numbers/{PHONE_ID}/set-pin"),
            )
            .form(&[("new_pin", "123456"), ("confirm_pin", "123456")])
            .send()
    };

    let failed = Reply::of(set_pin().await.expect("set pin")).await;
    let state = server.sandbox_state().await;
    let retried = Reply::of(set_pin().await.expect("set pin again")).await;

    // A failed write is the server's fault, as on the API (500, not 503).
    assert_eq!(failed.status, 500, "{failed:?}");
    assert!(failed.text().contains("Nothing changed"), "{failed:?}");
    assert_eq!(state["two_step"]["enabled"], false, "{state}");
    assert!(retried.status < 400, "{retried:?}");
    assert_eq!(server.sandbox_state().await["two_step"]["enabled"], true);
    server.stop().await;
}
