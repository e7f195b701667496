//! Routing errors: an unknown path is 404 / 1006 whoever asks, a wrong method is
//! 405 / 1014 with no details and an `Allow` header, both before authentication.

use reqwest::Method;

use crate::support::*;

#[tokio::test]
async fn an_unknown_path_is_404_with_1006_with_or_without_a_token() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases: [(&str, Method, &str, Option<&str>); 8] = [
        ("GET /v1/nope, no token", Method::GET, "/v1/nope", None),
        (
            "GET /v1/nope, admin token",
            Method::GET,
            "/v1/nope",
            Some(admin.as_str()),
        ),
        (
            "GET /v1/nope, bad token",
            Method::GET,
            "/v1/nope",
            Some("bogus"),
        ),
        ("POST /v1/nope, no token", Method::POST, "/v1/nope", None),
        ("GET /nope, no token", Method::GET, "/nope", None),
        (
            "GET /nope, admin token",
            Method::GET,
            "/nope",
            Some(admin.as_str()),
        ),
        (
            "POST below two-step, admin token",
            Method::POST,
            "/v1/settings/account/two-step/x",
            Some(admin.as_str()),
        ),
        (
            "POST /v1/settings/account, no token",
            Method::POST,
            "/v1/settings/account",
            None,
        ),
    ];
    let mut failures = Failures::default();
    for (case, method, path, token) in cases {
        // Act
        let mut req = app
            .request(method, path)
            .header("content-type", JSON)
            .body(r#"{"pin": "#);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let r = Reply::of(req.send().await.expect("request")).await;
        // Assert
        failures.error(case, &r, 404, 1006, Some(NOT_FOUND));
    }
    failures.assert_none();
}

#[tokio::test]
async fn a_wrong_method_on_two_step_is_405_with_1014_no_details_and_an_allow_header() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let cases: [(&str, Method, Option<&str>); 4] = [
        ("GET, admin token", Method::GET, Some(admin.as_str())),
        ("GET, no token (route before auth)", Method::GET, None),
        ("PUT, admin token", Method::PUT, Some(admin.as_str())),
        ("PATCH, bad token", Method::PATCH, Some("bogus")),
    ];
    for (case, method, token) in cases {
        // Act
        let mut req = app.request(method, TWO_STEP);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let r = Reply::of(req.send().await.expect("request")).await;
        // Assert
        let mut failures = Failures::default();
        failures.error(case, &r, 405, 1014, None);
        failures.assert_none();
        let allow = r.header_all("allow");
        let methods: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        assert!(
            methods.iter().any(|m| m == "POST") && methods.iter().any(|m| m == "DELETE"),
            "case {case}: Allow {allow:?} lacks POST or DELETE"
        );
    }
}
