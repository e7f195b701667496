//! The OpenAPI 3.1 document of everything the server serves (the emulated `/v1`
//! API, the Cloud API and the `/__sandbox` control plane), checked in at
//! `openapi.json` and embedded in the binary. A test keeps it in step with the
//! route table and the Cloud edge's own table (`api::cloud::Endpoint::ALL`). It
//! is served as checked in but for its `servers` URL, which names this server's
//! public base (docs/behaviour.md#public-url), so a tool reading it from behind a
//! proxy sends its requests through the proxy.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::auth::ControlCaller;
use super::AppState;

/// The checked-in document, verbatim.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// The checked-in `servers` entry, replaced when served; a unit test checks it
/// occurs exactly once.
const SERVER_URL: &str = r#""servers": [
    {
      "url": "http://127.0.0.1:8080"
    }"#;

/// [`DOCUMENT`] with its `servers` URL set to `base`.
fn with_server_url(base: &str) -> String {
    let url = serde_json::Value::String(base.to_owned()).to_string();
    let entry = SERVER_URL.replace(r#""http://127.0.0.1:8080""#, &url);
    DOCUMENT.replacen(SERVER_URL, &entry, 1)
}

/// `GET /__sandbox/openapi.json`. On the control plane like the rest of
/// `/__sandbox` (same token rule), though it holds nothing secret.
pub async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    _c: ControlCaller,
) -> Response {
    let base = state.edge.public_url.base(&headers);
    let mut resp = with_server_url(&base).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn the_served_document_names_the_public_base_as_its_server() {
        assert_eq!(
            DOCUMENT.matches(SERVER_URL).count(),
            1,
            "servers entry moved"
        );
        let served: serde_json::Value =
            serde_json::from_str(&with_server_url("https://sandbox.example.com/wa")).unwrap();
        let mut expected: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        expected["servers"][0]["url"] = "https://sandbox.example.com/wa".into();
        assert_eq!(served, expected);
    }

    const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

    /// `(method, path)` of every `.route("PATH", get(..).post(..))` call in `src`,
    /// test modules excluded. Reading the source keeps one route table (the
    /// router's own) instead of a second list that could drift from it.
    fn routes_in_source() -> BTreeSet<(String, String)> {
        let needle = concat!(".", "route(");
        let mut out = BTreeSet::new();
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let text = text.split("#[cfg(test)]").next().unwrap();
                for (at, _) in text.match_indices(needle) {
                    // rustfmt may put the path on the next line.
                    let Some(rest) = text[at + needle.len()..].trim_start().strip_prefix('"')
                    else {
                        continue;
                    };
                    let end = rest.find('"').unwrap();
                    let route = rest[..end].to_owned();
                    // The method routers: up to the parenthesis closing `.route(`.
                    let mut depth = 1usize;
                    let mut close = rest.len();
                    for (i, c) in rest[end..].char_indices() {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        if depth == 0 {
                            close = end + i;
                            break;
                        }
                    }
                    let args = &rest[end..close];
                    let mut found = false;
                    for (i, _) in args.match_indices('(') {
                        let word_start = args[..i]
                            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .map_or(0, |p| p + 1);
                        let word = &args[word_start..i];
                        let before = args[..word_start].chars().next_back();
                        if METHODS.contains(&word) && before != Some(':') {
                            out.insert((word.to_ascii_uppercase(), route.clone()));
                            found = true;
                        }
                    }
                    assert!(found, "no method found for route {route} in {path:?}");
                }
            }
        }
        out
    }

    fn routes_in_document() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_the_router_serves_is_in_the_openapi_document() {
        let mut served = routes_in_source();
        for endpoint in crate::api::cloud::Endpoint::ALL {
            served.insert((endpoint.method().to_owned(), endpoint.route().to_owned()));
        }
        assert!(
            served.len() >= 10,
            "route parsing found too little: {served:?}"
        );
        let documented = routes_in_document();
        let missing: Vec<_> = served.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "routes missing from openapi.json: {missing:?}"
        );
    }

    #[test]
    fn the_document_describes_the_specified_registration_and_metrics_routes() {
        let documented = routes_in_document();
        for (method, path) in [
            ("POST", "/v1/account"),
            ("POST", "/v1/account/verify"),
            ("GET", "/metrics"),
        ] {
            assert!(
                documented.contains(&(method.to_owned(), path.to_owned())),
                "{method} {path} missing from openapi.json"
            );
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut stack = vec![&doc];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                        let pointer = r.strip_prefix('#').expect("local reference");
                        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
    }
}
