//! What hostile requests are made of: proptest strategies for methods, paths
//! (On-Premises, Cloud and noise), credentials, headers and bodies (JSON, forms,
//! raw bytes, deep nesting, huge numbers, duplicate keys).

use axum::http::Method;
use base64::Engine;
use proptest::prelude::*;
use serde_json::Value;

use crate::support::*;

const KNOWN_PATHS: &[&str] = &[
    "/v1/users/login",
    "/v1/users/logout",
    "/v1/users",
    "/v1/users/admin",
    "/v1/users/alice01",
    "/v1/settings/account/two-step",
    "/v1/health",
    "/__sandbox/health",
    "/__sandbox/state",
    "/__sandbox/reset",
    "/",
];

/// Cloud (Graph) paths: the routes, an auto-upgraded and a too new version, an
/// unknown object, an unknown edge, and a version alone.
const CLOUD_PATHS: &[&str] = &[
    "/v22.0/106540352242922",
    "/v22.0/106540352242922/register",
    "/v22.0/106540352242922/deregister",
    "/v22.0/102290129340398/phone_numbers",
    "/v19.0/106540352242922/register",
    "/v99.0/106540352242922",
    "/v22.0/999",
    "/v22.0/106540352242922/x/y",
    "/v22.0",
];

/// A URI path: a known route (sometimes with a query or a trailing slash), or
/// noise built from characters a request line may carry.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KNOWN_PATHS).prop_map(str::to_owned),
        3 => proptest::sample::select(CLOUD_PATHS).prop_map(str::to_owned),
        1 => (proptest::sample::select(KNOWN_PATHS), "[a-z0-9=&%]{0,12}")
            .prop_map(|(p, q)| format!("{p}?{q}")),
        1 => proptest::sample::select(KNOWN_PATHS).prop_map(|p| format!("{p}/")),
        1 => proptest::sample::select(CLOUD_PATHS).prop_map(|p| format!("{p}/")),
        1 => proptest::sample::select(CLOUD_PATHS)
            .prop_map(|p| format!("{p}?fields=status&access_token={CLOUD_TOKEN}")),
        1 => "/v1/users/[a-zA-Z0-9._~%-]{0,40}",
        1 => "/v[0-9]{1,3}\\.[0-9]/[a-zA-Z0-9._~%/:@!$&'()*+,;=-]{0,40}",
        1 => "/[a-zA-Z0-9._~%/:@!$&'()*+,;=-]{0,60}",
        1 => Just("/v1/users/%00%ff%c3%28".to_owned()),
        1 => Just("//v1//users/../users/login".to_owned()),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        6 => proptest::sample::select(vec![
            Method::GET, Method::POST, Method::PUT, Method::DELETE,
            Method::PATCH, Method::HEAD, Method::OPTIONS, Method::TRACE,
        ]),
        1 => "[A-Z]{1,10}".prop_map(|m| Method::from_bytes(m.as_bytes()).expect("token")),
    ]
}

/// Who the request claims to be.
#[derive(Debug, Clone)]
pub(super) enum Auth {
    None,
    /// A valid admin token (from the case's own first login).
    AdminBearer,
    /// The static Cloud token ([`CLOUD_TOKEN`]).
    CloudBearer,
    /// The static Cloud token as `OAuth <token>`.
    CloudOauthScheme,
    /// The admin's current password.
    AdminBasic,
    /// The seed password (already changed: a failed login).
    SeedBasic,
    Bearer(String),
    BasicRaw(Vec<u8>),
    Apikey(String),
    Raw(Vec<u8>),
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        2 => Just(Auth::None),
        4 => Just(Auth::AdminBearer),
        3 => Just(Auth::CloudBearer),
        1 => Just(Auth::CloudOauthScheme),
        2 => Just(Auth::AdminBasic),
        1 => Just(Auth::SeedBasic),
        1 => "[ -~]{0,80}".prop_map(Auth::Bearer),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Auth::BasicRaw),
        1 => "[ -~]{0,20}".prop_map(Auth::Apikey),
        1 => proptest::collection::vec(any::<u8>(), 0..60).prop_map(Auth::Raw),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => Just(Some("application/json".to_owned())),
        1 => Just(Some("application/json; charset=utf-8".to_owned())),
        2 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        1 => Just(Some("Application/JSON".to_owned())),
        1 => Just(Some("text/plain".to_owned())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

/// An `X-Request-ID`: valid, too long, with spaces, or any bytes at all.
fn request_id() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        2 => "[!-~]{1,128}".prop_map(|s| Some(s.into_bytes())),
        1 => "[!-~]{129,200}".prop_map(|s| Some(s.into_bytes())),
        1 => "[ -~]{0,40}".prop_map(|s| Some(s.into_bytes())),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
    ]
}

/// A JSON value of bounded size, with the scalars that matter to the parsers.
pub(super) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        proptest::sample::select(vec![
            "",
            "0",
            "123456",
            "012345",
            "12345",
            "1234567",
            "١٢٣٤٥٦",
            "12 456",
            "Sandbox-Pa55!",
            "Weak",
            "Alice-Pa55word!",
            "alice01",
            "a",
            "whatsapp",
            "EAAsandboxstatictoken0123456789abcdefghij",
            "is_pin_enabled,status",
            "DE",
        ])
        .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        (100_000u32..1_000_000).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{0,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: parameters the endpoints know (JSON or form), or hostile bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let key = proptest::sample::select(vec![
        "pin",
        "new_password",
        "username",
        "password",
        "cc",
        "x",
        "messaging_product",
        "access_token",
        "fields",
        "data_localization_region",
    ]);
    prop_oneof![
        2 => Just(Vec::new()),
        6 => proptest::collection::btree_map(key, json_value(), 0..4)
            .prop_map(|m| serde_json::to_vec(&m).expect("json")),
        2 => proptest::collection::vec(("[a-z_]{0,10}", "[ -~]{0,12}"), 0..4).prop_map(|pairs| {
            serde_urlencoded::to_string(&pairs).expect("form").into_bytes()
        }),
        2 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => (1usize..5000, proptest::sample::select(vec!["[", "{\"pin\":", "{\"a\":["]))
            .prop_map(|(depth, open)| open.repeat(depth).into_bytes()),
        1 => (1usize..400, proptest::sample::select(vec!["1", "9", "0"]), "[eE]?[+-]?[0-9]{0,6}")
            .prop_map(|(n, d, exp)| format!("{{\"pin\": {}{exp}}}", d.repeat(n)).into_bytes()),
        1 => Just(br#"{"pin":"123456","pin":"1","pin":{"pin":"123456"}}"#.to_vec()),
        1 => Just(b"pin=123456&pin=&pin=%ff%fe&new_password=%00".to_vec()),
        1 => Just(b"{\"pin\":\"\xff\xfe\"}".to_vec()),
        1 => Just(b"\xef\xbb\xbf{\"pin\":\"123456\"}".to_vec()),
    ]
}

/// One generated request.
#[derive(Debug, Clone)]
pub(super) struct Hostile {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) auth: Auth,
    pub(super) content_type: Option<String>,
    pub(super) request_id: Option<Vec<u8>>,
    pub(super) content_length: Option<String>,
    pub(super) transfer_encoding: Option<String>,
    pub(super) body: Vec<u8>,
}

pub(super) fn hostile() -> impl Strategy<Value = Hostile> {
    (
        method(),
        path(),
        auth(),
        content_type(),
        request_id(),
        proptest::option::weighted(0.2, "[0-9]{1,25}|-1|abc| 7|1, 2"),
        proptest::option::weighted(0.1, "chunked|gzip|identity|chunked, chunked|[a-z, ]{0,12}"),
        body(),
    )
        .prop_map(
            |(
                method,
                path,
                auth,
                content_type,
                request_id,
                content_length,
                transfer_encoding,
                body,
            )| {
                Hostile {
                    method,
                    path,
                    auth,
                    content_type,
                    request_id,
                    content_length,
                    transfer_encoding,
                    body,
                }
            },
        )
}

/// The `Authorization` header value for `auth`, given the case's admin token.
pub(super) fn authorization(auth: &Auth, admin_token: &str) -> Option<Vec<u8>> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match auth {
        Auth::None => None,
        Auth::AdminBearer => Some(format!("Bearer {admin_token}").into_bytes()),
        Auth::CloudBearer => Some(format!("Bearer {CLOUD_TOKEN}").into_bytes()),
        Auth::CloudOauthScheme => Some(format!("OAuth {CLOUD_TOKEN}").into_bytes()),
        Auth::AdminBasic => Some(basic("admin", ADMIN_PASSWORD).into_bytes()),
        Auth::SeedBasic => Some(basic("admin", SEED_PASSWORD).into_bytes()),
        Auth::Bearer(t) => Some(format!("Bearer {t}").into_bytes()),
        Auth::BasicRaw(raw) => Some(format!("Basic {}", b64(raw)).into_bytes()),
        Auth::Apikey(k) => Some(format!("Apikey {k}").into_bytes()),
        Auth::Raw(raw) => Some(raw.clone()),
    }
}
