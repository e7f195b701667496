//! The sandbox behind a real nginx running the shipped site
//! (`recipes/nginx/wa-twostep.conf`): TLS, the `/wa/` prefix stripped, the
//! forwarded headers. Through `https://127.0.0.1:<port>/wa/`: the README's
//! walkthroughs, the login limiter keyed on the address nginx saw (spoofed
//! `X-Forwarded-For` headers change nothing, two real clients keep separate
//! budgets), the base of absolute links, and health as the upstream check.

use std::process::Command;

use serde_json::json;

use crate::support::nginx::{Curl, Nginx};
use crate::support::*;

/// The README walkthroughs run through nginx, by heading: both flavors.
const WALKTHROUGHS: [&str; 2] = ["## On-Premises walkthrough", "## Cloud walkthrough"];

/// A server set up as the site's header comment says, with `extra` environment.
async fn behind_nginx(extra: &[(&str, &str)]) -> (TestApp, Nginx) {
    let ports = Nginx::ports();
    let mut spawn = TestApp::with().env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true");
    for (k, v) in extra {
        spawn = spawn.env(*k, *v);
    }
    let app = spawn.start().await;
    let nginx = Nginx::start_on(ports, app.addr);
    (app, nginx)
}

/// The admin's first login (the right password, a new one) through `client`,
/// with extra header lines.
fn first_login(client: &Curl, login: &str, headers: &[&str]) -> Reply {
    let right = basic_header("admin", SEED_PASSWORD);
    let body = json!({"new_password": ADMIN_PASSWORD}).to_string();
    let mut args = vec![
        "-H",
        &right,
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
    ];
    for h in headers {
        args.extend(["-H", h]);
    }
    client.send("POST", login, &args)
}

/// `Authorization: Basic …` as a curl header argument.
fn basic_header(user: &str, password: &str) -> String {
    format!("Authorization: {}", basic(user, password))
}

#[tokio::test]
async fn the_readme_walkthroughs_work_through_nginx_under_the_prefix() {
    for heading in WALKTHROUGHS {
        let (_app, nginx) = behind_nginx(&[]).await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/walkthrough.sh");

        let out = Command::new("bash")
            .arg(script)
            .arg(nginx.public_base())
            .arg(heading)
            .env("CURL_CA_BUNDLE", &nginx.cert)
            .output()
            .expect("run .ci/walkthrough.sh");

        assert!(
            out.status.success(),
            "{heading} through nginx:\n{}{}\nnginx error.log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            nginx.error_log()
        );
    }
}

#[tokio::test]
async fn through_nginx_spoofed_forwarded_for_headers_do_not_escape_the_login_limit() {
    // Arrange: a client at 127.0.0.1 claims a new address with every wrong guess;
    // nginx appends the one it saw ($proxy_add_x_forwarded_for).
    let (_app, nginx) = behind_nginx(&[("WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS", "3")]).await;
    let login = format!("{}/v1/users/login", nginx.public_base());
    let guesser = nginx.client("127.0.0.1");
    let wrong = basic_header("admin", "wrong-password");
    for n in 1..=3 {
        let spoof = format!("X-Forwarded-For: 198.51.100.{n}");
        let r = guesser.send("POST", &login, &["-H", &wrong, "-H", &spoof]);
        assert_login_refused(&r);
    }
    // Act: the right password, with a fresh spoofed address, a list of them, and
    // the other client's address.
    let fresh = first_login(&guesser, &login, &["X-Forwarded-For: 198.51.100.99"]);
    let list = first_login(
        &guesser,
        &login,
        &["X-Forwarded-For: 203.0.113.1, 203.0.113.2"],
    );
    let other_claimed = first_login(&guesser, &login, &["X-Forwarded-For: 127.0.0.2"]);
    // A second real client, from another source address, has its own budget.
    let other = first_login(&nginx.client("127.0.0.2"), &login, &[]);

    // Assert
    for (case, r) in [
        ("fresh", &fresh),
        ("list", &list),
        ("claimed", &other_claimed),
    ] {
        assert!(
            error_mismatch(r, 429, 1015, Some(LOGIN_LIMITED)).is_none(),
            "{case}: a spoofed X-Forwarded-For escaped the limit: {} {}",
            r.status,
            r.text()
        );
    }
    let token = assert_status(&other, 200);
    assert!(token["users"][0]["token"].is_string(), "{token}");
}

#[tokio::test]
async fn through_nginx_links_use_the_public_url_or_what_nginx_forwarded() {
    // With server.public_url: the prefix nginx strips is part of the base.
    let ports = Nginx::ports();
    let public = format!("https://127.0.0.1:{}/wa", ports.0);
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .env("WA_TWOSTEP_SERVER__PUBLIC_URL", &public)
        .start()
        .await;
    let nginx = Nginx::start_on(ports, app.addr);
    let doc = format!("{}/__sandbox/openapi.json", nginx.public_base());
    let configured = nginx.client("127.0.0.1").send("GET", &doc, &[]);
    // Without it: X-Forwarded-Proto and -Host as nginx set them (no prefix).
    let (_plain, derived_nginx) = behind_nginx(&[]).await;
    let derived_doc = format!("{}/__sandbox/openapi.json", derived_nginx.public_base());
    let derived = derived_nginx
        .client("127.0.0.1")
        .send("GET", &derived_doc, &[]);

    assert_eq!(assert_status(&configured, 200)["servers"][0]["url"], public);
    assert_eq!(
        assert_status(&derived, 200)["servers"][0]["url"],
        format!("https://127.0.0.1:{}", derived_nginx.tls_port)
    );
}

#[tokio::test]
async fn health_through_nginx_is_the_upstream_check() {
    // Arrange
    let (mut app, nginx) = behind_nginx(&[]).await;
    let client = nginx.client("127.0.0.1");
    let health = format!("{}/__sandbox/health", nginx.public_base());

    // Act
    let up = client.send("GET", &health, &[]);
    let plain = client.send(
        "GET",
        &format!("http://127.0.0.1:{}/wa/", nginx.plain_port),
        &[],
    );
    let bare_prefix = client.send(
        "GET",
        &format!("https://127.0.0.1:{}/wa", nginx.tls_port),
        &[],
    );
    assert!(app.stop().success());
    let down = client.send("GET", &health, &[]);

    // Assert: 200 while it serves, a gateway error once it is gone.
    assert!(up.is_json(), "{up:?}");
    assert_eq!(assert_status(&up, 200), json!({"status": "ok"}));
    assert_eq!(down.status, 502, "{down:?}");
    // Plain HTTP and the bare prefix only redirect.
    assert_eq!(plain.status, 301, "{plain:?}");
    assert_eq!(
        plain.header("location").as_deref(),
        Some("https://127.0.0.1/wa/")
    );
    assert_eq!(bare_prefix.status, 301, "{bare_prefix:?}");
    assert!(
        bare_prefix
            .header("location")
            .is_some_and(|l| l.ends_with("/wa/")),
        "{bare_prefix:?}"
    );
}

#[tokio::test]
async fn through_nginx_the_manager_pages_and_the_reset_link_work_under_the_prefix() {
    // server.public_url names the prefix nginx strips: the emailed link must carry it.
    let ports = Nginx::ports();
    let public = format!("https://127.0.0.1:{}/wa", ports.0);
    let app = TestApp::with()
        .env("WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR", "true")
        .env("WA_TWOSTEP_SERVER__PUBLIC_URL", &public)
        .env(
            "WA_TWOSTEP_CLOUD__ACCESS_TOKEN",
            crate::support::graph::CLOUD_TOKEN,
        )
        .start()
        .await;
    let nginx = Nginx::start_on(ports, app.addr);
    let client = nginx.client("127.0.0.1");
    let base = nginx.public_base();
    let id = crate::support::graph::PHONE_ID;
    let bearer = format!(
        "Authorization: Bearer {}",
        crate::support::graph::CLOUD_TOKEN
    );
    let set = client.send(
        "POST",
        &format!("{base}/v22.0/{id}"),
        &[
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"pin":"123456"}"#,
        ],
    );
    assert_status(&set, 200);

    let page = client.send("GET", &format!("{base}/__sandbox/manager/"), &[]);
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains(id),
        "the numbers page lists the number: {html}"
    );
    assert!(
        !html.contains("href=\"/") && !html.contains("action=\"/"),
        "absolute paths would escape the /wa/ prefix: {html}"
    );
    let off = client.send(
        "POST",
        &format!("{base}/__sandbox/manager/api/numbers/{id}/turn-off"),
        &[],
    );
    let link = assert_status(&off, 202)["email"]["link"]
        .as_str()
        .expect("the email's link")
        .to_owned();
    assert!(
        link.starts_with(&format!("{public}/__sandbox/manager/reset/")),
        "{link}"
    );
    let confirm = client.send("GET", &link, &[]);
    assert_eq!(
        confirm.status,
        200,
        "the link opens through nginx: {}",
        confirm.text()
    );
}
