//! The base of absolute links (`server.public_url`): the configured URL when set,
//! else the request's `Host`, or `X-Forwarded-Host` / `X-Forwarded-Proto` only with
//! `server.trust_forwarded_for`. Seen through the one absolute link the server
//! writes today, the `servers` URL of the served OpenAPI document (the Manager's
//! reset link will use the same base). Through a real nginx: `deploy::nginx`.

use reqwest::Method;

use crate::support::*;

/// The `servers` URL of `GET /__sandbox/openapi.json` sent with these headers.
async fn served_base(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut req = app.request(Method::GET, "/__sandbox/openapi.json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = expect_status(req.send().await.expect("openapi"), 200).await;
    body["servers"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no servers URL in the document"))
        .to_owned()
}

const FORWARDED: [(&str, &str); 2] = [
    ("X-Forwarded-Host", "sandbox.example.com"),
    ("X-Forwarded-Proto", "https"),
];

#[tokio::test]
async fn the_configured_public_url_is_the_base_whatever_the_request_says() {
    let app = TestApp::with()
        .env(
            "WA_TWOSTEP_SERVER__PUBLIC_URL",
            "https://sandbox.example.com/wa/",
        )
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .start()
        .await;

    let plain = served_base(&app, &[]).await;
    let forwarded = served_base(&app, &[FORWARDED[0], ("X-Forwarded-Proto", "http")]).await;

    assert_eq!(plain, "https://sandbox.example.com/wa");
    assert_eq!(forwarded, "https://sandbox.example.com/wa");
}

#[tokio::test]
async fn without_a_public_url_the_base_is_the_host_the_client_named() {
    let app = TestApp::spawn().await;

    let own = served_base(&app, &[]).await;
    let named = served_base(&app, &[("Host", "sandbox.test:8443")]).await;
    // Forwarded headers are what any client can send: not trusted by default.
    let forwarded = served_base(&app, &FORWARDED).await;

    assert_eq!(own, app.base);
    assert_eq!(named, "http://sandbox.test:8443");
    assert_eq!(forwarded, app.base);
}

#[tokio::test]
async fn with_trusted_forwarded_headers_the_base_is_what_the_proxy_saw() {
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .start()
        .await;

    let forwarded = served_base(&app, &FORWARDED).await;
    let proto_only = served_base(&app, &[FORWARDED[1]]).await;

    assert_eq!(forwarded, "https://sandbox.example.com");
    assert_eq!(proto_only, app.base.replacen("http:", "https:", 1));
}
