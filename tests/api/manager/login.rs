//! The Manager's pages with `control.token` set: a login form sets an `HttpOnly`,
//! `SameSite=Strict` session cookie, every state-changing form needs the
//! session's CSRF token, and the reset link works without a session.

use serde_json::json;

use super::pages::{form, page, post};
use crate::support::*;

const NUMBER_PAGE: &str = "/__sandbox/manager/numbers/106540352242922/";

/// The CSRF token in a page's forms.
fn csrf_in(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// Logs in; returns the `Cookie` header value.
async fn login(app: &TestApp) -> String {
    let r = post(
        app,
        "/__sandbox/manager/login",
        &[("token", CONTROL_TOKEN)],
        None,
    )
    .await;
    assert_eq!(r.status, 303, "{r:?}");
    let set = r.header("set-cookie").expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn pages_need_a_login_and_the_token_form_gives_a_session() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;

    let anonymous = page(&app, "/__sandbox/manager/", None).await;
    let number = page(&app, NUMBER_PAGE, None).await;
    let forged = page(&app, "/__sandbox/manager/", Some("wa_manager_session=1.00")).await;
    let wrong = post(
        &app,
        "/__sandbox/manager/login",
        &[("token", "not-the-token-123")],
        None,
    )
    .await;
    let form_page = page(&app, "/__sandbox/manager/login", None).await;
    let cookie = login(&app).await;
    let index = page(&app, "/__sandbox/manager/", Some(&cookie)).await;

    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location").as_deref(), Some("login"));
    assert_eq!(number.status, 303);
    assert_eq!(number.header("location").as_deref(), Some("../../login"));
    assert_eq!(forged.status, 303);
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    assert_eq!(form_page.status, 200);
    assert!(form_page.text().contains(r#"name="token""#));
    assert_eq!(index.status, 200);
    assert!(index.text().contains("+1 5550100"));
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;
    let cookie = login(&app).await;
    let other = login(&app).await;
    let html = page(&app, NUMBER_PAGE, Some(&cookie)).await.text();
    let csrf = csrf_in(&html);
    let pin = [("new_pin", "123456"), ("confirm_pin", "123456")];

    let without = form(&app, "set-pin", &pin, Some(&cookie)).await;
    let foreign = {
        let other_csrf = csrf_in(&page(&app, NUMBER_PAGE, Some(&other)).await.text());
        let mut f = pin.to_vec();
        f.push(("csrf", &other_csrf));
        form(&app, "set-pin", &f, Some(&cookie)).await
    };
    let no_session = {
        let mut f = pin.to_vec();
        f.push(("csrf", &csrf));
        form(&app, "set-pin", &f, None).await
    };
    let unchanged = app
        .graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
        .await;
    let with = {
        let mut f = pin.to_vec();
        f.push(("csrf", &csrf));
        form(&app, "set-pin", &f, Some(&cookie)).await
    };

    assert_eq!(without.status, 403, "{without:?}");
    assert_eq!(foreign.status, 403);
    assert_eq!(no_session.status, 303, "to the login page");
    assert_eq!(
        no_session.header("location").as_deref(),
        Some("../../login")
    );
    assert_eq!(unchanged["is_pin_enabled"], false);
    assert_eq!(with.status, 303);
    assert!(
        app.graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
            .await["is_pin_enabled"]
            == true
    );
}

#[tokio::test]
async fn the_reset_link_works_without_a_session() {
    let mut app = cloud_spawn()
        .env("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_TOKEN)
        .start()
        .await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let sent = app
        .call(
            reqwest::Method::POST,
            &manager_action(PHONE_ID, "turn-off"),
            Some(CONTROL_TOKEN),
            None,
        )
        .await;
    let link = expect_status(sent, 202).await["email"]["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = link.strip_prefix(app.base()).unwrap().to_owned();

    let confirm = page(&app, &path, None).await;
    let done = post(&app, &path, &[], None).await;

    assert_eq!(confirm.status, 200);
    assert_eq!(done.status, 200);
    assert_eq!(
        app.graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
            .await["is_pin_enabled"],
        false
    );
    // Every line written: the server flushes its log when it exits.
    app.stop();
    let log = app.stderr();
    assert!(
        !log.contains(path.rsplit('/').next().unwrap()),
        "the link's token is in the log"
    );
    assert!(
        !log.contains(CONTROL_TOKEN),
        "the control token is in the log"
    );
}
