//! The Manager's HTML pages without a control token: the numbers, a number's
//! forms and their messages, the reset link's confirmation and error pages,
//! relative links only, and the security headers.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

const NUMBER_PAGE: &str = "/__sandbox/manager/numbers/106540352242922/";

#[tokio::test]
async fn the_pages_walk_set_change_and_turn_off_with_clear_messages() {
    let app = cloud_spawn().start().await;

    let index = page(&app, "/__sandbox/manager/", None).await;
    let off = page(&app, NUMBER_PAGE, None).await;
    let mismatch = form(
        &app,
        "set-pin",
        &[("new_pin", "123456"), ("confirm_pin", "654321")],
        None,
    )
    .await;
    let format = form(
        &app,
        "set-pin",
        &[("new_pin", "12a"), ("confirm_pin", "12a")],
        None,
    )
    .await;
    let set = form(
        &app,
        "set-pin",
        &[("new_pin", "123456"), ("confirm_pin", "123456")],
        None,
    )
    .await;
    let on = page(&app, &format!("{NUMBER_PAGE}?done=set"), None).await;
    let wrong = form(
        &app,
        "change-pin",
        &[
            ("current_pin", "999999"),
            ("new_pin", "222222"),
            ("confirm_pin", "222222"),
        ],
        None,
    )
    .await;
    let changed = form(
        &app,
        "change-pin",
        &[
            ("current_pin", "123456"),
            ("new_pin", "222222"),
            ("confirm_pin", "222222"),
        ],
        None,
    )
    .await;
    let turned = form(&app, "turn-off", &[], None).await;

    assert_eq!(index.status, 200);
    assert!(
        index.text().contains("+1 5550100") && index.text().contains("Off"),
        "{}",
        index.text()
    );
    assert!(index.text().contains(r#"href="numbers/106540352242922/""#));
    assert!(off.text().contains("Set PIN") && !off.text().contains("Change PIN"));
    assert_eq!(mismatch.status, 400);
    assert!(
        mismatch
            .text()
            .contains("The PINs you entered don&#x27;t match"),
        "{}",
        mismatch.text()
    );
    assert_eq!(format.status, 400);
    assert!(format.text().contains("The new PIN must be 6 digits"));
    assert_eq!(set.status, 303);
    assert_eq!(set.header("location").as_deref(), Some("./?done=set"));
    assert!(on.text().contains("Two-step verification is on.") && on.text().contains("Change PIN"));
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("The current PIN is incorrect"));
    assert_eq!(changed.status, 303);
    assert_eq!(turned.status, 303);
    assert_eq!(turned.header("location").as_deref(), Some("./?done=email"));
    expect_graph_success(app.graph_register(CLOUD_TOKEN, PHONE_ID, "222222").await).await;
    for p in [&index, &off, &mismatch, &on, &wrong] {
        assert_page_headers(p);
        assert_relative_links(&p.text());
    }
}

#[tokio::test]
async fn the_reset_link_page_confirms_before_it_changes_anything_and_works_once() {
    let app = cloud_spawn().start().await;
    expect_graph_success(
        app.graph_set_pin(CLOUD_TOKEN, PHONE_ID, json!("111111"))
            .await,
    )
    .await;
    let link = app.manager_reset_link(PHONE_ID).await;
    let path = link
        .strip_prefix(app.base())
        .expect("link on this server")
        .to_owned();
    let token = path.rsplit('/').next().unwrap().to_owned();

    let confirm = page(&app, &path, None).await;
    let still_on = app.manager_two_step(PHONE_ID).await;
    let done = post(&app, &path, &[], None).await;
    let again = post(&app, &path, &[], None).await;
    let reopened = page(&app, &path, None).await;
    let unknown = page(&app, "/__sandbox/manager/reset/nope", None).await;

    assert_eq!(confirm.status, 200);
    assert!(
        confirm.text().contains(&format!(r#"action="{token}""#)),
        "{}",
        confirm.text()
    );
    assert!(still_on, "the GET changed state");
    assert_eq!(done.status, 200);
    assert!(done.text().contains("Two-step verification is now off"));
    assert!(!app.manager_two_step(PHONE_ID).await);
    assert_eq!(again.status, 404);
    assert_eq!(reopened.status, 404);
    assert!(reopened.text().contains("This link doesn"));
    assert_eq!(unknown.status, 404);
    for p in [&confirm, &done, &again] {
        assert_page_headers(p);
        assert_relative_links(&p.text());
    }
    assert_eq!(
        confirm.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
}

#[tokio::test]
async fn the_manager_redirects_to_its_directory_and_serves_its_stylesheet() {
    let app = cloud_spawn().start().await;
    let root = page(&app, "/__sandbox/manager", None).await;
    let css = page(&app, "/__sandbox/manager/style.css", None).await;
    let nobody = page(&app, "/__sandbox/manager/numbers/42/", None).await;

    assert_eq!(root.status, 303);
    assert_eq!(root.header("location").as_deref(), Some("manager/"));
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert_eq!(nobody.status, 404);
    assert!(nobody.text().contains("No such number"));
}

/// `GET path` with an optional cookie.
pub async fn page(app: &TestApp, path: &str, cookie: Option<&str>) -> Reply {
    let mut req = app.request(Method::GET, path);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    Reply::of(req.send().await.expect("page")).await
}

/// `POST path` as a form with an optional cookie.
pub async fn post(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> Reply {
    let mut req = app.request(Method::POST, path).form(fields);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    Reply::of(req.send().await.expect("form")).await
}

/// Posts a number-page form.
pub async fn form(
    app: &TestApp,
    action: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> Reply {
    post(app, &format!("{NUMBER_PAGE}{action}"), fields, cookie).await
}

/// The security headers every page carries.
pub fn assert_page_headers(r: &Reply) {
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
}

/// No link or form action is absolute (the pages work under a proxy prefix).
pub fn assert_relative_links(html: &str) {
    for attr in ["href=\"", "action=\"", "src=\""] {
        for (at, _) in html.match_indices(attr) {
            let value = &html[at + attr.len()..];
            assert!(
                !value.starts_with('/') && !value.starts_with("http"),
                "absolute {attr}: {}",
                &value[..value.len().min(60)]
            );
        }
    }
}
