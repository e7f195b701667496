//! The Cloud wire: the headers of every answer (a fresh `fbtrace_id` equal to
//! `x-fb-request-id`), the version window, a trailing slash, chunked bodies,
//! parameters from JSON, forms, multipart and the query string, and the token as
//! an `access_token` parameter or an `OAuth` header.

use reqwest::Method;
use serde_json::json;

use crate::support::raw_http::{chunked_request, exchange};
use crate::support::*;

#[tokio::test]
async fn every_answer_carries_the_cloud_headers_and_a_fresh_trace_id() {
    let app = cloud_spawn().start().await;

    let a = Reply::of(
        app.graph(Method::GET, PHONE_ID, Some(CLOUD_TOKEN))
            .send()
            .await
            .expect("a"),
    )
    .await;
    let b = Reply::of(
        app.graph(Method::GET, PHONE_ID, Some(CLOUD_TOKEN))
            .send()
            .await
            .expect("b"),
    )
    .await;
    let e1 = Reply::of(
        app.graph(Method::GET, PHONE_ID, None)
            .send()
            .await
            .expect("c"),
    )
    .await;
    let e2 = Reply::of(
        app.graph(Method::GET, PHONE_ID, None)
            .send()
            .await
            .expect("d"),
    )
    .await;

    for r in [&a, &b] {
        assert_eq!(r.status, 200, "{r:?}");
        assert!(graph_headers_mismatch(r).is_none(), "{r:?}");
        assert_eq!(
            r.header("facebook-api-version").as_deref(),
            Some(GRAPH_VERSION)
        );
        assert!(r.header("www-authenticate").is_none(), "{r:?}");
    }
    assert_ne!(a.header("x-fb-request-id"), b.header("x-fb-request-id"));
    let t1 = assert_graph_error(&e1, &no_token())["error"]["fbtrace_id"].clone();
    let t2 = assert_graph_error(&e2, &no_token())["error"]["fbtrace_id"].clone();
    assert_ne!(t1, t2, "fbtrace_id is fresh per request");
}

#[tokio::test]
async fn the_version_window_serves_auto_upgrades_and_refuses_newer() {
    let app = cloud_spawn().start().await;
    let get = |version: &str| {
        app.request(Method::GET, &format!("/{version}/{PHONE_ID}"))
            .bearer_auth(CLOUD_TOKEN)
            .send()
    };

    let oldest = Reply::of(get("v21.0").await.expect("oldest")).await;
    let latest = Reply::of(get("v26.0").await.expect("latest")).await;
    let old = Reply::of(get("v19.0").await.expect("old")).await;
    let newer = Reply::of(get("v26.1").await.expect("newer")).await;

    assert_eq!(
        (
            oldest.status,
            oldest.header("facebook-api-version").as_deref()
        ),
        (200, Some("v21.0"))
    );
    assert!(oldest.header("x-ad-api-version-warning").is_none());
    assert_eq!(
        (
            latest.status,
            latest.header("facebook-api-version").as_deref()
        ),
        (200, Some("v26.0"))
    );
    assert_eq!(
        (old.status, old.header("facebook-api-version").as_deref()),
        (200, Some("v21.0"))
    );
    assert_eq!(
        old.header("x-ad-api-version-warning").as_deref(),
        Some("The call has been auto-upgraded to v21.0 as v19.0 will be deprecated.")
    );
    assert_graph_error(&newer, &unknown_path(&format!("/{PHONE_ID}")));
    assert_eq!(
        newer.header("facebook-api-version").as_deref(),
        Some("v26.0")
    );
}

#[tokio::test]
async fn the_window_follows_the_settings() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_CLOUD__OLDEST_VERSION", "v23.0")
        .env("WA_TWOSTEP_CLOUD__LATEST_VERSION", "v24.0")
        .start()
        .await;

    let newer = app
        .request(Method::GET, &format!("/v25.0/{PHONE_ID}"))
        .send()
        .await
        .expect("newer");
    let old = Reply::of(
        app.request(Method::GET, &format!("/v22.0/{PHONE_ID}"))
            .bearer_auth(CLOUD_TOKEN)
            .send()
            .await
            .expect("old"),
    )
    .await;

    expect_graph_error(newer, unknown_path(&format!("/{PHONE_ID}"))).await;
    assert_eq!(
        old.header("facebook-api-version").as_deref(),
        Some("v23.0"),
        "{old:?}"
    );
}

#[tokio::test]
async fn a_trailing_slash_is_ignored() {
    let app = cloud_spawn().start().await;

    let set = app
        .graph(Method::POST, &format!("{PHONE_ID}/"), Some(CLOUD_TOKEN))
        .json(&json!({"pin": "123456"}))
        .send()
        .await
        .expect("set");
    let list = app
        .graph(
            Method::GET,
            &format!("{WABA_ID}/phone_numbers/"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("list");

    expect_graph_success(set).await;
    let body = Reply::of(list).await;
    assert_eq!(body.status, 200, "{body:?}");
    assert_eq!(
        app.graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
            .await["is_pin_enabled"],
        true
    );
}

#[tokio::test]
async fn parameters_come_from_json_forms_multipart_or_the_query() {
    let app = cloud_spawn().start().await;
    let post = || app.graph(Method::POST, PHONE_ID, Some(CLOUD_TOKEN));

    let json_number = post()
        .json(&json!({"pin": 123456}))
        .send()
        .await
        .expect("json");
    let form = post()
        .form(&[("pin", "234567")])
        .send()
        .await
        .expect("form");
    let query = app
        .graph(
            Method::POST,
            &format!("{PHONE_ID}?pin=345678"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("query");
    let multipart = post()
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body("--XyZ\r\nContent-Disposition: form-data; name=\"pin\"\r\n\r\n456789\r\n--XyZ--\r\n")
        .send()
        .await
        .expect("multipart");
    let body_wins = app
        .graph(
            Method::POST,
            &format!("{PHONE_ID}?pin=12"),
            Some(CLOUD_TOKEN),
        )
        .json(&json!({"pin": "567890"}))
        .send()
        .await
        .expect("body wins");
    let register_form = app
        .graph(
            Method::POST,
            &format!("{PHONE_ID}/register"),
            Some(CLOUD_TOKEN),
        )
        .form(&[("messaging_product", "whatsapp"), ("pin", "567890")])
        .send()
        .await
        .expect("register form");

    for resp in [
        json_number,
        form,
        query,
        multipart,
        body_wins,
        register_form,
    ] {
        expect_graph_success(resp).await;
    }
}

#[tokio::test]
async fn the_token_may_be_an_access_token_parameter_or_an_oauth_header() {
    let app = cloud_spawn().start().await;

    let in_query = app
        .graph(
            Method::GET,
            &format!("{PHONE_ID}?fields=status&access_token={CLOUD_TOKEN}"),
            None,
        )
        .send()
        .await
        .expect("query");
    let in_body = app
        .graph(Method::POST, PHONE_ID, None)
        .form(&[("pin", "123456"), ("access_token", CLOUD_TOKEN)])
        .send()
        .await
        .expect("body");
    let oauth = app
        .graph(Method::GET, PHONE_ID, None)
        .header("Authorization", format!("oauth {CLOUD_TOKEN}"))
        .send()
        .await
        .expect("oauth");
    let bad_in_query = app
        .graph(
            Method::GET,
            &format!("{PHONE_ID}?access_token=EAAnope"),
            None,
        )
        .send()
        .await
        .expect("bad");

    assert_eq!(Reply::of(in_query).await.json()["status"], "CONNECTED");
    expect_graph_success(in_body).await;
    assert_eq!(Reply::of(oauth).await.status, 200);
    expect_graph_error(bad_in_query, bad_token()).await;
}

#[tokio::test]
async fn a_chunked_body_is_read_like_any_other() {
    let app = cloud_spawn().start().await;
    let auth = format!("Authorization: Bearer {CLOUD_TOKEN}");

    let req = chunked_request(
        "POST",
        &graph_path(&format!("{PHONE_ID}/register")),
        app.addr,
        &[auth.clone(), format!("Content-Type: {JSON}")],
        &[
            b"{\"messaging_product\":\"what",
            b"sapp\",\"pin\":\"65",
            b"4321\"}",
        ],
    );
    let registered = exchange(app.addr, &req).await;
    let req = chunked_request(
        "POST",
        &graph_path(PHONE_ID),
        app.addr,
        &[auth, format!("Content-Type: {JSON}")],
        &[b"{\"pin\":", b"\"12\"}"],
    );
    let short = exchange(app.addr, &req).await;

    assert_eq!(
        (registered.status, registered.json()),
        (200, json!({"success": true}))
    );
    assert_graph_error(&short, &pin_length());
    assert_eq!(
        app.graph_fields(CLOUD_TOKEN, PHONE_ID, "is_pin_enabled")
            .await["is_pin_enabled"],
        true
    );
}

#[tokio::test]
async fn graph_paths_are_not_served_when_the_cloud_flavor_is_off() {
    let app = cloud_spawn()
        .env("WA_TWOSTEP_CLOUD__ENABLED", "false")
        .start()
        .await;

    let resp = app
        .graph(Method::GET, PHONE_ID, Some(CLOUD_TOKEN))
        .send()
        .await
        .expect("off");

    expect_error(resp, 404, 1006, Some(NOT_FOUND)).await;
}
