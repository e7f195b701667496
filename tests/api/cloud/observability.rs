//! What surrounds the Cloud routes: the request journal records them by path
//! without the query (so an `access_token` there never reaches it), `/metrics`
//! counts them under their route templates, and the log line names the route.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn the_journal_records_cloud_requests_without_their_query_or_token() {
    let app = cloud_spawn().start().await;
    let minted = expect_status(
        app.call(Method::POST, "/__sandbox/cloud/tokens", None, None)
            .await,
        201,
    )
    .await;
    let minted = minted["access_token"].as_str().expect("token").to_owned();

    let query = format!("{PHONE_ID}?fields=is_pin_enabled&access_token={minted}");
    let read = app
        .graph(Method::GET, &query, None)
        .header("X-Request-ID", "cloud-read")
        .send()
        .await
        .expect("read");
    let set = app
        .graph(Method::POST, PHONE_ID, None)
        .header("X-Request-ID", "cloud-set")
        .form(&[("pin", "482915"), ("access_token", CLOUD_TOKEN)])
        .send()
        .await
        .expect("set");
    let journal = app.get_ok("/__sandbox/requests").await;

    assert_eq!(read.status(), 200);
    assert_eq!(set.status(), 200);
    let entries: Vec<&Value> = journal["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .collect();
    let by_id = |id: &str| {
        entries
            .iter()
            .find(|e| e["request_id"] == id)
            .unwrap_or_else(|| panic!("no entry {id}: {journal}"))
    };
    assert_eq!(by_id("cloud-read")["path"], graph_path(PHONE_ID));
    assert_eq!(
        (
            by_id("cloud-set")["method"].clone(),
            by_id("cloud-set")["status"].clone()
        ),
        (json!("POST"), json!(200))
    );
    let text = journal.to_string();
    for secret in [minted.as_str(), CLOUD_TOKEN, "482915", "access_token"] {
        assert!(!text.contains(secret), "{secret} in the journal: {text}");
    }
}

#[tokio::test]
async fn metrics_and_the_log_line_name_cloud_requests_by_route_template() {
    let app = cloud_spawn().start().await;
    expect_graph_success(app.graph_register(CLOUD_TOKEN, PHONE_ID, "123456").await).await;
    expect_graph_error(
        app.graph_register(CLOUD_TOKEN, PHONE_ID, "654321").await,
        pin_mismatch(),
    )
    .await;
    expect_graph_success(app.graph_deregister(CLOUD_TOKEN, PHONE_ID).await).await;
    app.graph_fields(CLOUD_TOKEN, PHONE_ID, "status").await;
    let list = app
        .graph(
            Method::GET,
            &format!("{WABA_ID}/phone_numbers"),
            Some(CLOUD_TOKEN),
        )
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200);

    let text = app.get("/metrics").await.text().await.expect("metrics");
    let log = app
        .stderr_containing("/{version}/{waba_id}/phone_numbers")
        .await;

    for (route, status, n) in [
        ("/{version}/{phone_number_id}/register", 200, 1),
        ("/{version}/{phone_number_id}/register", 400, 1),
        ("/{version}/{phone_number_id}/deregister", 200, 1),
        ("/{version}/{phone_number_id}", 200, 1),
        ("/{version}/{waba_id}/phone_numbers", 200, 1),
    ] {
        let series =
            format!("wa_twostep_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        assert!(
            text.lines().any(|l| l == series),
            "no `{series}` in:\n{text}"
        );
    }
    let log = log.expect("a log line with the route template");
    assert!(
        !log.contains(PHONE_ID),
        "the log names the template, not the number: {log}"
    );
    assert!(!log.contains(CLOUD_TOKEN), "{log}");
}
