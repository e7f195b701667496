//! Typed settings, layered: built-in defaults < TOML file (`--config`) <
//! `WA_TWOSTEP_<SECTION>__<KEY>` environment < command-line flags (docs/behaviour.md#configuration-and-command-line).
//! Everything is validated once, at start; a bad key or value is an error that
//! names it, says where it came from (file, variable or flag) and echoes the value
//! unless the key holds a secret (the binary exits 2). Nothing here is read again
//! after start-up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::cli::Cli;
use crate::secret::Secret;

/// Prefix of the environment variables that configure the server.
pub const ENV_PREFIX: &str = "WA_TWOSTEP_";

/// A configuration problem; the message names the offending key, variable or file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// All settings. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Listener, limits and timeouts.
    pub server: ServerSettings,
    /// Where state lives.
    pub state: StateSettings,
    /// Wire details of the emulated API.
    pub api: ApiSettings,
    /// Seed admin, tokens, login limiter, API key.
    pub auth: AuthSettings,
    /// argon2id cost and the hashing pool.
    pub argon2: Argon2Settings,
    /// The emulated phone number (registration).
    pub account: AccountSettings,
    /// The Cloud API flavor: the WABA, its first number, tokens, versions.
    pub cloud: CloudSettings,
    /// WhatsApp Manager: the business email, reset links, the outbox, SMTP.
    pub manager: ManagerSettings,
    /// The `/__sandbox` control plane.
    pub control: ControlSettings,
    /// Request logs.
    pub log: LogSettings,
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Listen address (an IP address, never a host name); port 0 picks any free port.
    #[serde(deserialize_with = "listen_addr")]
    pub listen: SocketAddr,
    /// Largest accepted request body (413 / 1009 above it).
    pub body_limit_bytes: u64,
    /// Time a client has to send the request head.
    pub header_read_timeout_secs: u64,
    /// Time a request (body included) may take end to end.
    pub request_timeout_secs: u64,
    /// Time in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Time a response write may make no progress (a client that does not read)
    /// before the connection is closed.
    pub write_timeout_secs: u64,
    /// Connections served at once; 0: derived from the open-file limit. Further
    /// connections wait in the listen backlog until one closes.
    pub max_connections: u32,
    /// Take the client address from `X-Forwarded-For`: the entry the trusted
    /// proxy added, [`ServerSettings::proxy_hops`] from the right.
    pub trust_forwarded_for: bool,
    /// Trusted proxies in front of the server: the `X-Forwarded-For` entry that many
    /// places from the right is the client address (with `trust_forwarded_for`).
    pub proxy_hops: u32,
    /// Base of every absolute link the server writes, such as
    /// `https://sandbox.example.com/wa`; empty: derived from each request.
    pub public_url: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 65536,
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            shutdown_grace_secs: 10,
            write_timeout_secs: 10,
            max_connections: 0,
            trust_forwarded_for: false,
            proxy_hops: 1,
            public_url: String::new(),
        }
    }
}

pub use crate::cli::parse_listen;

/// `server.listen` from a string, with [`parse_listen`]'s message.
fn listen_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    parse_listen(&s).map_err(|why| serde::de::Error::custom(format!("{s:?}: {why}")))
}

/// What `--print-config` shows instead of a secret's value.
pub const REDACTED: &str = "<redacted>";

/// Most trusted proxies `server.proxy_hops` may count: more than any real chain.
pub const MAX_PROXY_HOPS: u32 = 16;

/// `server.public_url` is empty, or an absolute `http`/`https` URL with a host, an
/// optional path, and no user name, query or fragment: it is pasted in front of
/// paths, so anything after the path would break every link.
fn check_public_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    let rule = "must be empty or an absolute http:// or https:// URL with a host and an optional path, such as https://sandbox.example.com/wa";
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{rule} (no query, fragment or spaces)"));
    }
    let uri: axum::http::Uri = url.parse().map_err(|_| rule.to_owned())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    match uri.authority() {
        Some(a) if scheme_ok && !a.as_str().contains('@') && !a.host().is_empty() => Ok(()),
        _ => Err(rule.to_owned()),
    }
}

/// True for keys whose values are secrets (passwords, tokens, keys, codes): errors
/// about them never echo the value. Decided by name, so a key added later under a
/// name like `*_token` or `*_password` is covered without a list to update.
pub fn is_secret_key(key: &str) -> bool {
    let name = key.rsplit('.').next().unwrap_or(key);
    // A database URL carries the database password.
    name.ends_with("postgres_url")
        || name.contains("password")
        || name.contains("secret")
        || ["token", "key", "code"].iter().any(|s| name.ends_with(s))
}

/// Where the state is kept (`state.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The state file at `state.path` (or memory, with `state.ephemeral`): one server.
    File,
    /// A PostgreSQL database at `state.postgres_url`, shared by several servers.
    Postgres,
}

/// `[state]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateSettings {
    /// State file; companion files start with this name.
    pub path: PathBuf,
    /// Memory only: nothing is written.
    pub ephemeral: bool,
    /// Seed file (TOML, or JSON for `*.json`) the state starts from and resets to; empty: none.
    pub seed: PathBuf,
    /// Where the state is kept: `file` or `postgres`.
    pub backend: Backend,
    /// With `backend = "postgres"`: `postgres://user:password@host:port/database`.
    /// A secret: it usually holds the database password.
    pub postgres_url: Secret,
    /// With `backend = "postgres"`: how long to retry reaching the database at start.
    pub connect_timeout_secs: u64,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            path: PathBuf::from("wa-twostep-state.json"),
            ephemeral: false,
            seed: PathBuf::new(),
            backend: Backend::File,
            postgres_url: Secret::default(),
            connect_timeout_secs: 30,
        }
    }
}

/// The form of an "empty success" body (docs/behaviour.md#empty-success).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmptySuccess {
    /// `{"meta": {...}}`, what the real server sent on the wire.
    Meta,
    /// `{}`
    Object,
    /// `null`
    Null,
}

/// `[api]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// `meta.version` in every body.
    pub version: String,
    /// Body of an operation that has no payload.
    pub empty_success: EmptySuccess,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            version: "v2.45.1".into(),
            empty_success: EmptySuccess::Meta,
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// The seed admin's password.
    pub admin_password: Secret,
    /// The seed admin must set a new password at first login.
    pub force_password_change: bool,
    /// Token lifetime.
    pub token_ttl_secs: u64,
    /// Failed logins per client address per hour before 429.
    pub max_failed_logins: u32,
    /// Client addresses the failed-login limiter remembers at most (bounds its memory).
    pub login_limiter_capacity: u32,
    /// Live tokens one user may hold; a login past it revokes that user's oldest.
    pub max_tokens_per_user: u32,
    /// Key for `Authorization: Apikey` on `/v1/health`; empty turns the scheme off.
    pub api_key: Secret,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            admin_password: Secret::new("secret"),
            force_password_change: true,
            token_ttl_secs: 604_800,
            max_failed_logins: 30,
            login_limiter_capacity: 100_000,
            max_tokens_per_user: 1000,
            api_key: Secret::default(),
        }
    }
}

/// `[argon2]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Settings {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Time cost.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes running at once; 0 means the number of CPUs.
    pub max_concurrent: u32,
    /// Requests allowed to wait for a hashing slot before 503.
    pub max_queue: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        // OWASP's recommended argon2id setting: 19 MiB, t=2, p=1.
        Argon2Settings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
            max_queue: 64,
        }
    }
}

/// `[account]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// The emulated number starts registered.
    pub registered: bool,
    /// Country code of the registered number.
    pub cc: String,
    /// The registered number.
    pub phone_number: String,
    /// Verified name returned by registration.
    pub vname: String,
    /// The code `/v1/account/verify` accepts.
    pub verify_code: Secret,
    /// Wrong registration PINs per number per hour (both flavors) before 429 / 133008.
    pub max_pin_guesses: u32,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            registered: true,
            cc: "1".into(),
            phone_number: "5550100".into(),
            vname: "Sandbox Business".into(),
            verify_code: Secret::new("123456"),
            max_pin_guesses: 10,
        }
    }
}

/// `[cloud]`: the Cloud (Graph) API flavor (docs/behaviour.md#cloud-api).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudSettings {
    /// Serve the Graph paths (`/{version}/...`) beside `/v1`.
    pub enabled: bool,
    /// The WhatsApp Business Account ID.
    pub waba_id: String,
    /// The first number's phone-number ID: the number the On-Premises API acts on.
    pub phone_number_id: String,
    /// One static access token with both scopes; empty: none.
    pub access_token: Secret,
    /// The oldest Graph version served; older ones are auto-upgraded to it.
    pub oldest_version: String,
    /// The newest Graph version served; newer ones are unknown paths.
    pub latest_version: String,
    /// Register plus deregister calls per number in a moving 72 hours.
    pub max_registrations: u32,
    /// Where `security` webhooks are POSTed (`http://host:port/path`); empty: none.
    pub webhook_url: String,
    /// The app secret that signs webhook bodies (`X-Hub-Signature-256`).
    pub app_secret: Secret,
}

impl Default for CloudSettings {
    fn default() -> Self {
        CloudSettings {
            enabled: true,
            waba_id: "102290129340398".into(),
            phone_number_id: "106540352242922".into(),
            access_token: Secret::default(),
            oldest_version: "v21.0".into(),
            latest_version: "v26.0".into(),
            max_registrations: 10,
            webhook_url: String::new(),
            app_secret: Secret::default(),
        }
    }
}

/// `[manager]`: the WhatsApp Manager side of two-step (docs/behaviour.md#whatsapp-manager).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagerSettings {
    /// Where "Turn off two-step verification" sends its reset email.
    pub business_email: String,
    /// How long a reset link works, in seconds.
    pub reset_link_ttl_secs: u64,
    /// Emails kept in the outbox (`GET /__sandbox/emails`).
    pub outbox_capacity: u32,
    /// `smtp://host:port`: each email is also delivered there; empty: outbox only.
    pub smtp_url: String,
}

impl Default for ManagerSettings {
    fn default() -> Self {
        ManagerSettings {
            business_email: "business@example.com".into(),
            reset_link_ttl_secs: 86_400,
            outbox_capacity: 100,
            smtp_url: String::new(),
        }
    }
}

/// A Graph API version, `v<major>.<minor>` (docs/cloud.md#errors-headers-and-versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GraphVersion {
    /// The number before the dot.
    pub major: u32,
    /// The number after it.
    pub minor: u32,
}

impl GraphVersion {
    /// Parses `v22.0`; `None` for anything else (`v22`, `22.0`, `v22.0.1`, `v+1.0`).
    pub fn parse(s: &str) -> Option<GraphVersion> {
        let (major, minor) = s.strip_prefix('v')?.split_once('.')?;
        let number = |t: &str| {
            let ok = (1..=6).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| t.parse().ok()).flatten()
        };
        Some(GraphVersion {
            major: number(major)?,
            minor: number(minor)?,
        })
    }
}

impl std::fmt::Display for GraphVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

/// The shape of a Cloud access token a person may choose (`cloud.access_token`,
/// a seed file's `[[cloud_tokens]]`): `EAA` and then 32 to 509 ASCII letters or
/// digits, like the tokens Meta issues (docs/cloud.md#tokens-and-permissions).
/// Minted tokens have this shape too.
pub fn check_cloud_token(token: &str) -> Result<(), &'static str> {
    let ok = token.starts_with("EAA")
        && (35..=512).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("must be EAA followed by 32 to 509 ASCII letters or digits")
    }
}

/// A phone-number or WABA ID: 1 to 32 ASCII digits, as Graph object IDs are.
pub fn is_graph_id(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `host:port` of an `smtp://host:port` URL (a trailing `/` allowed).
pub fn smtp_addr(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("smtp://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.rsplit_once(':')?;
    let ok = !host.is_empty()
        && !host.contains(['/', '@', '?', '#'])
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    ok.then_some(rest)
}

/// `[control]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlSettings {
    /// Serve `/__sandbox/state`, `/__sandbox/reset` and friends.
    pub enabled: bool,
    /// Bearer token the control plane requires; empty means none.
    pub token: Secret,
    /// Requests kept in the journal; 0 disables it.
    pub journal_capacity: u32,
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            enabled: true,
            token: Secret::default(),
            journal_capacity: 1000,
        }
    }
}

pub use crate::telemetry::LogFormat;

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Line format.
    pub format: LogFormat,
    /// Filter directive (`info`, `wa_twostep=debug`, ...); `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

/// One override: `section.key = value`, from the environment or a flag.
pub type Override = (String, String, toml::Value);

/// Builds the settings from the process's flags, environment and config file, and
/// checks `RUST_LOG` (which overrides `log.level`) by the same rules as `log.level`.
pub fn load(cli: &Cli) -> Result<Settings, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    let settings = load_from(cli.config.as_deref(), &env, &flag_overrides(cli))?;
    if let Some(filter) = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty()) {
        crate::telemetry::check_filter(&filter).map_err(|why| {
            ConfigError(format!("environment variable RUST_LOG = {filter:?}: {why}"))
        })?;
    }
    Ok(settings)
}

/// The overrides the command-line flags ask for.
pub fn flag_overrides(cli: &Cli) -> Vec<Override> {
    let mut out = Vec::new();
    let mut set = |s: &str, k: &str, v: toml::Value| out.push((s.to_owned(), k.to_owned(), v));
    if let Some(listen) = &cli.listen {
        set("server", "listen", toml::Value::String(listen.to_string()));
    }
    if let Some(path) = &cli.state {
        set(
            "state",
            "path",
            toml::Value::String(path.to_string_lossy().into_owned()),
        );
    }
    if cli.ephemeral {
        set("state", "ephemeral", toml::Value::Boolean(true));
    }
    if let Some(seed) = &cli.seed {
        set(
            "state",
            "seed",
            toml::Value::String(seed.to_string_lossy().into_owned()),
        );
    }
    if let Some(format) = &cli.log_format {
        set("log", "format", toml::Value::String(format.clone()));
    }
    out
}

/// The flag that sets `section.key`, for naming it in errors.
fn flag_name(section: &str, key: &str) -> &'static str {
    match (section, key) {
        ("server", "listen") => "--listen",
        ("state", "path") => "--state",
        ("state", "ephemeral") => "--ephemeral",
        ("state", "seed") => "--seed",
        ("log", "format") => "--log-format",
        _ => "a command-line flag",
    }
}

/// Where the value of a key came from: named in its error, so the user knows what to edit.
#[derive(Debug, Clone)]
enum Origin {
    /// The config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
}

/// The layered table with the origin of every key that is not a default.
struct Layers {
    /// `section` or `section.key` → where its value came from.
    origins: HashMap<String, Origin>,
    /// The merged table.
    table: toml::Table,
}

impl Layers {
    /// A one-line error about `key`: where its value came from, the value itself
    /// (unless `echo` is false, the key is a secret or the value is a whole
    /// section), then why it was refused.
    fn error(&self, key: &str, echo: bool, why: &str) -> ConfigError {
        let place = match self.origins.get(key) {
            Some(Origin::File(path)) => format!("config file {}: ", path.display()),
            Some(Origin::Env(name)) => format!("environment variable {name}: "),
            Some(Origin::Flag(flag)) => format!("flag {flag}: "),
            None => "configuration key ".to_owned(),
        };
        let value = match lookup(&self.table, key) {
            Some(v) if echo && !is_secret_key(key) && !v.is_table() => format!(" = {v}"),
            _ => String::new(),
        };
        ConfigError(format!("{place}{key}{value}: {why}"))
    }
}

/// The value at `section` or `section.key` in `table`.
fn lookup<'t>(table: &'t toml::Table, key: &str) -> Option<&'t toml::Value> {
    match key.split_once('.') {
        Some((section, key)) => table.get(section)?.as_table()?.get(key),
        None => table.get(key),
    }
}

/// A TOML syntax error on one line: position and message, without the source excerpt.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().lines().map(str::trim).collect::<Vec<_>>();
    let message = message.join("; ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Layers `file` < `env` (pairs of variable name and value) < `flags` over the defaults.
pub fn load_from(
    file: Option<&Path>,
    env: &[(String, String)],
    flags: &[Override],
) -> Result<Settings, ConfigError> {
    let mut layers = Layers {
        origins: HashMap::new(),
        table: toml::Table::new(),
    };
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        layers.table = text.parse::<toml::Table>().map_err(|e| {
            ConfigError(format!(
                "config file {}: {}",
                path.display(),
                syntax_error(&text, &e)
            ))
        })?;
        for (section, value) in &layers.table {
            let origin = Origin::File(path.to_owned());
            layers.origins.insert(section.clone(), origin.clone());
            for key in value.as_table().into_iter().flat_map(|t| t.keys()) {
                layers
                    .origins
                    .insert(format!("{section}.{key}"), origin.clone());
            }
        }
    }
    let defaults = toml::Table::try_from(Settings::default())
        .map_err(|e| ConfigError(format!("internal: defaults do not serialize: {e}")))?;
    for (name, raw) in env {
        let (section, key, value) = env_override(&defaults, name, raw)?;
        let origin = Origin::Env(name.clone());
        layers.origins.insert(format!("{section}.{key}"), origin);
        insert(&mut layers.table, &section, &key, value);
    }
    for (section, key, value) in flags {
        let origin = Origin::Flag(flag_name(section, key));
        layers.origins.insert(format!("{section}.{key}"), origin);
        insert(&mut layers.table, section, key, value.clone());
    }
    let settings: Settings = serde_path_to_error::deserialize(toml::Value::Table(
        layers.table.clone(),
    ))
    .map_err(|e| {
        let path = e.path().to_string();
        // `message()`, not `Display`: the latter repeats the key ("in `...`").
        let inner = e.into_inner();
        if path == "." {
            ConfigError(format!("configuration: {}", inner.message()))
        } else if is_secret_key(&path) {
            // serde's message quotes the value ("invalid type: integer `5`").
            layers.error(&path, false, "must be a string (the value is not shown)")
        } else {
            // serde's message already quotes the value ("invalid type: string \"big\"").
            layers.error(&path, false, inner.message())
        }
    })?;
    settings
        .check()
        .map_err(|(key, why)| layers.error(key, true, &why))?;
    Ok(settings)
}

/// Turns `WA_TWOSTEP_SECTION__KEY=raw` into a typed override, using the type of the
/// key's default value (environment values are all strings).
fn env_override(
    defaults: &toml::Table,
    name: &str,
    raw: &str,
) -> Result<(String, String, toml::Value), ConfigError> {
    let unknown = || {
        ConfigError(format!(
            "unknown environment variable {name}: expected {ENV_PREFIX}<SECTION>__<KEY> naming a key of config.example.toml"
        ))
    };
    let rest = name.strip_prefix(ENV_PREFIX).ok_or_else(unknown)?;
    let (section, key) = rest.split_once("__").ok_or_else(unknown)?;
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    let default = defaults
        .get(&section)
        .and_then(|s| s.as_table())
        .and_then(|s| s.get(&key))
        .ok_or_else(unknown)?;
    let bad = |what: &str| {
        let value = if is_secret_key(&key) {
            String::new()
        } else {
            format!(" = {raw:?}")
        };
        ConfigError(format!(
            "environment variable {name}: {section}.{key}{value}: expected {what}"
        ))
    };
    let value = match default {
        toml::Value::Integer(_) => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
        }
        toml::Value::Boolean(_) => match raw.trim() {
            "true" | "1" => toml::Value::Boolean(true),
            "false" | "0" => toml::Value::Boolean(false),
            _ => return Err(bad("true or false")),
        },
        _ => toml::Value::String(raw.to_owned()),
    };
    Ok((section, key, value))
}

fn insert(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    let entry = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = entry {
        t.insert(key.to_owned(), value);
    }
    // A section that is not a table is left for deserialization to report by name.
}

impl Settings {
    /// Checks the values that types alone cannot (ranges, cross-key rules).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|(key, why)| {
            let table = toml::Table::try_from(self).unwrap_or_default();
            let layers = Layers {
                origins: HashMap::new(),
                table,
            };
            layers.error(key, true, &why)
        })
    }

    /// [`Settings::validate`]'s rules: the refused key and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let bad = |key: &'static str, why: &str| Err((key, why.to_owned()));
        if self.server.body_limit_bytes == 0 {
            return bad("server.body_limit_bytes", "must be at least 1");
        }
        if self.server.header_read_timeout_secs == 0 {
            return bad("server.header_read_timeout_secs", "must be at least 1");
        }
        if self.server.write_timeout_secs == 0 {
            return bad("server.write_timeout_secs", "must be at least 1");
        }
        if self.server.request_timeout_secs == 0 {
            return bad("server.request_timeout_secs", "must be at least 1");
        }
        if !(1..=MAX_PROXY_HOPS).contains(&self.server.proxy_hops) {
            return bad(
                "server.proxy_hops",
                &format!(
                    "must be between 1 and {MAX_PROXY_HOPS} (to ignore X-Forwarded-For, set server.trust_forwarded_for = false)"
                ),
            );
        }
        if let Err(why) = check_public_url(&self.server.public_url) {
            return bad("server.public_url", &why);
        }
        if self.state.backend == Backend::Postgres {
            if !cfg!(feature = "postgres") {
                return bad(
                    "state.backend",
                    "\"postgres\" needs a build with the `postgres` feature (on by default)",
                );
            }
            let url = self.state.postgres_url.expose();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return bad(
                    "state.postgres_url",
                    "must be a postgres://user:password@host:port/database URL when state.backend = \"postgres\"",
                );
            }
            if self.state.ephemeral {
                return bad(
                    "state.ephemeral",
                    "cannot be true with state.backend = \"postgres\" (the database keeps the state)",
                );
            }
            if self.state.connect_timeout_secs == 0 {
                return bad("state.connect_timeout_secs", "must be at least 1");
            }
        } else if !self.state.ephemeral && self.state.path.as_os_str().is_empty() {
            return bad(
                "state.path",
                "must not be empty unless state.ephemeral is true",
            );
        }
        if self.api.version.is_empty() {
            return bad("api.version", "must not be empty");
        }
        if self.auth.admin_password.is_empty() {
            return bad("auth.admin_password", "must not be empty");
        }
        if self.auth.token_ttl_secs == 0 || self.auth.token_ttl_secs > 10 * 365 * 86_400 {
            return bad("auth.token_ttl_secs", "must be between 1 and 315360000");
        }
        if self.auth.max_failed_logins == 0 {
            return bad("auth.max_failed_logins", "must be at least 1");
        }
        if self.auth.max_tokens_per_user == 0 {
            return bad("auth.max_tokens_per_user", "must be at least 1");
        }
        if self.auth.login_limiter_capacity == 0 {
            return bad("auth.login_limiter_capacity", "must be at least 1");
        }
        let key_len = self.auth.api_key.expose().chars().count();
        if key_len != 0 && !(12..=128).contains(&key_len) {
            // The real server required WA_API_KEY to be 12 to 128 characters.
            return bad("auth.api_key", "must be empty or 12 to 128 characters");
        }
        if let Err(e) = argon2::Params::new(
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            None,
        ) {
            return bad(
                "argon2",
                &format!("memory_kib/iterations/parallelism rejected: {e}"),
            );
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&self.account.cc) || self.account.cc.len() > 3 {
            return bad("account.cc", "must be 1 to 3 digits");
        }
        if !digits(&self.account.phone_number) {
            return bad("account.phone_number", "must be digits");
        }
        if self.account.verify_code.is_empty() {
            return bad("account.verify_code", "must not be empty");
        }
        if self.account.max_pin_guesses == 0 {
            return bad("account.max_pin_guesses", "must be at least 1");
        }
        if let Err(why) = crate::telemetry::check_filter(&self.log.level) {
            return bad("log.level", &why);
        }
        self.check_cloud()?;
        self.check_manager()?;
        if self.control.enabled
            && self.control.token.is_empty()
            && !self.server.listen.ip().is_loopback()
        {
            return bad(
                "control.token",
                "must be set when server.listen is not a loopback address and the control plane is enabled \
                 (anyone on the network could reset the sandbox); set control.token or control.enabled = false",
            );
        }
        let token_len = self.control.token.expose().chars().count();
        if token_len != 0 && token_len < 16 && !self.server.listen.ip().is_loopback() {
            // Reachable from the network, a short token can be guessed.
            return bad(
                "control.token",
                &format!(
                    "must be at least 16 characters when server.listen ({}) is not a loopback address",
                    self.server.listen
                ),
            );
        }
        Ok(())
    }

    /// The settings as TOML for `--print-config`, in the order of
    /// config.example.toml, with every non-empty secret (by [`is_secret_key`])
    /// replaced by `"<redacted>"`; an empty one stays `""`, which shows it is unset.
    pub fn redacted_toml(&self) -> Result<String, ConfigError> {
        let internal = |e: &dyn std::fmt::Display| {
            ConfigError(format!("internal: cannot print the configuration: {e}"))
        };
        let mut table = toml::Table::try_from(self).map_err(|e| internal(&e))?;
        for (section, keys) in table.iter_mut() {
            let Some(keys) = keys.as_table_mut() else {
                continue;
            };
            for (key, value) in keys.iter_mut() {
                let set = value.as_str().is_some_and(|v| !v.is_empty());
                if set && is_secret_key(&format!("{section}.{key}")) {
                    *value = toml::Value::String(REDACTED.to_owned());
                }
            }
        }
        // Back through the struct, so the sections and keys keep its order.
        let redacted: Settings = toml::Value::Table(table)
            .try_into()
            .map_err(|e| internal(&e))?;
        let body = toml::to_string(&redacted).map_err(|e| internal(&e))?;
        Ok(format!(
            "# wa-twostep --print-config: the effective configuration (built-in defaults < config file\n\
             # < environment < flags). Secrets that are set show as \"{REDACTED}\": set them again\n\
             # (for example in the environment) when you start from this file.\n\n{body}"
        ))
    }

    /// The `[cloud]` rules.
    fn check_cloud(&self) -> Result<(), (&'static str, String)> {
        let bad = |key: &'static str, why: &str| Err((key, why.to_owned()));
        let cloud = &self.cloud;
        if !is_graph_id(&cloud.waba_id) {
            return bad("cloud.waba_id", "must be 1 to 32 digits");
        }
        if !is_graph_id(&cloud.phone_number_id) {
            return bad("cloud.phone_number_id", "must be 1 to 32 digits");
        }
        if cloud.phone_number_id == cloud.waba_id {
            return bad("cloud.phone_number_id", "must differ from cloud.waba_id");
        }
        if !cloud.access_token.is_empty() {
            if let Err(why) = check_cloud_token(cloud.access_token.expose()) {
                return bad("cloud.access_token", why);
            }
        }
        let version = |key: &'static str, v: &str| {
            GraphVersion::parse(v).ok_or((key, "must be a Graph version such as v22.0".to_owned()))
        };
        let oldest = version("cloud.oldest_version", &cloud.oldest_version)?;
        let latest = version("cloud.latest_version", &cloud.latest_version)?;
        if oldest > latest {
            return bad(
                "cloud.oldest_version",
                "must not be newer than cloud.latest_version",
            );
        }
        if cloud.max_registrations == 0 {
            return bad("cloud.max_registrations", "must be at least 1");
        }
        if !cloud.webhook_url.is_empty() && !cloud.webhook_url.starts_with("http://") {
            return bad("cloud.webhook_url", "must be an http:// URL or empty");
        }
        Ok(())
    }

    /// The `[manager]` rules.
    fn check_manager(&self) -> Result<(), (&'static str, String)> {
        let bad = |key: &'static str, why: &str| Err((key, why.to_owned()));
        let m = &self.manager;
        let email = &m.business_email;
        if !(email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
            && !email
                .contains(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>'))
        {
            return bad("manager.business_email", "must be an email address");
        }
        if m.reset_link_ttl_secs == 0 || m.reset_link_ttl_secs > 365 * 86_400 {
            return bad("manager.reset_link_ttl_secs", "must be from 1 to 31536000");
        }
        if m.outbox_capacity == 0 || m.outbox_capacity > 10_000 {
            return bad("manager.outbox_capacity", "must be from 1 to 10000");
        }
        if !m.smtp_url.is_empty() && smtp_addr(&m.smtp_url).is_none() {
            return bad("manager.smtp_url", "must be smtp://host:port or empty");
        }
        Ok(())
    }

    /// Hashing slots: `argon2.max_concurrent`, or the number of CPUs when 0.
    pub fn argon2_slots(&self) -> usize {
        match self.argon2.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_example_file_lists_exactly_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let text = std::fs::read_to_string(&path).expect("config.example.toml");
        let example: toml::Table = text.parse().expect("example parses");
        let defaults = toml::Table::try_from(Settings::default()).unwrap();
        assert_eq!(
            example, defaults,
            "config.example.toml must list every key with its default"
        );
        for (section, keys) in &defaults {
            for key in keys.as_table().unwrap().keys() {
                let env_name = format!(
                    "{ENV_PREFIX}{}__{}",
                    section.to_uppercase(),
                    key.to_uppercase()
                );
                assert!(
                    text.contains(&env_name),
                    "example lacks env name {env_name}"
                );
            }
        }
        load_from(Some(&path), &[], &[]).expect("example loads");
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[api]\nversion = \"v1\"\n[server]\nlisten = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        let s = load_from(Some(&file), &[], &[]).unwrap();
        assert_eq!(s.api.version, "v1");
        let e = env(&[
            ("WA_TWOSTEP_API__VERSION", "v2"),
            ("WA_TWOSTEP_SERVER__LISTEN", "127.0.0.1:2"),
        ]);
        let s = load_from(Some(&file), &e, &[]).unwrap();
        assert_eq!(s.api.version, "v2");
        assert_eq!(s.server.listen.port(), 2);
        let flags = vec![(
            "server".into(),
            "listen".into(),
            toml::Value::String("127.0.0.1:3".into()),
        )];
        let s = load_from(Some(&file), &e, &flags).unwrap();
        assert_eq!(s.server.listen.port(), 3);
        assert_eq!(load_from(None, &[], &[]).unwrap().api.version, "v2.45.1");
    }

    #[test]
    fn errors_name_the_key() {
        let e = env(&[("WA_TWOSTEP_SERVER__NOPE", "1")]);
        assert!(load_from(None, &e, &[])
            .unwrap_err()
            .0
            .contains("WA_TWOSTEP_SERVER__NOPE"));
        let e = env(&[("WA_TWOSTEP_SERVER__BODY_LIMIT_BYTES", "big")]);
        assert!(load_from(None, &e, &[])
            .unwrap_err()
            .0
            .contains("server.body_limit_bytes"));
        let e = env(&[("WA_TWOSTEP_API__EMPTY_SUCCESS", "maybe")]);
        assert!(load_from(None, &e, &[])
            .unwrap_err()
            .0
            .contains("api.empty_success"));
        let e = env(&[("WA_TWOSTEP_ARGON2__MEMORY_KIB", "-5")]);
        assert!(load_from(None, &e, &[])
            .unwrap_err()
            .0
            .contains("argon2.memory_kib"));
        let e = env(&[("WA_TWOSTEP_SERVER__LISTEN", "0.0.0.0:80")]);
        assert!(load_from(None, &e, &[])
            .unwrap_err()
            .0
            .contains("control.token"));
    }

    #[test]
    fn secret_keys_are_recognised_by_name() {
        for key in [
            "auth.admin_password",
            "auth.api_key",
            "control.token",
            "account.verify_code",
            "future.refresh_token",
            "future.client_secret",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "auth.token_ttl_secs",
            "server.listen",
            "log.level",
            "account.cc",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn errors_are_one_line_name_their_source_and_echo_only_non_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let err = |toml: &str, env: &[(&str, &str)]| {
            std::fs::write(&file, toml).unwrap();
            let e = load_from(Some(&file), &env_pairs(env), &[]).unwrap_err().0;
            assert!(!e.contains('\n'), "not one line: {e}");
            e
        };
        let e = err("[server]\nbody_limit_bytes = \"big\"\n", &[]);
        assert!(
            e.starts_with(&format!("config file {}: ", file.display())),
            "{e}"
        );
        assert!(
            e.contains("server.body_limit_bytes") && e.contains("\"big\""),
            "{e}"
        );
        assert!(!e.contains("in `"), "the key is repeated: {e}");
        let e = err("[server]\nbody_limit_bytes = 0\n", &[]);
        assert!(
            e.contains("server.body_limit_bytes = 0: must be at least 1"),
            "{e}"
        );
        let e = err("[server\n", &[]);
        assert!(e.contains("line 1, column 8"), "{e}");
        let e = err("[auth]\nadmin_password = 424242\n", &[]);
        assert!(
            e.contains("auth.admin_password") && !e.contains("424242"),
            "{e}"
        );
        let e = err("", &[("WA_TWOSTEP_SERVER__LISTEN", "localhost:8080")]);
        assert!(
            e.contains("WA_TWOSTEP_SERVER__LISTEN") && e.contains("localhost:8080"),
            "{e}"
        );
        assert!(e.contains("IP address"), "{e}");
        let e = err(
            "[control]\ntoken = \"tiny-tok\"\n",
            &[("WA_TWOSTEP_SERVER__LISTEN", "0.0.0.0:0")],
        );
        assert!(
            e.contains("control.token") && !e.contains("tiny-tok"),
            "{e}"
        );
        assert!(e.contains(&file.display().to_string()), "{e}");
        let e = err("[log]\nlevel = \"warning\"\n", &[]);
        assert!(e.contains("log.level = \"warning\""), "{e}");
    }

    #[test]
    fn the_readme_table_lists_every_key_with_its_env_name_and_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let rows: HashMap<&str, Vec<&str>> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| {
                let cells: Vec<&str> = l.split(" | ").map(str::trim).collect();
                Some((cells.first()?.strip_suffix('`')?, cells))
            })
            .collect();
        let defaults = toml::Table::try_from(Settings::default()).unwrap();
        for (section, keys) in &defaults {
            for (key, value) in keys.as_table().unwrap() {
                let name = format!("{section}.{key}");
                let row = rows
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("README's configuration table lacks {name}"));
                let env_name = format!(
                    "`{ENV_PREFIX}{}__{}`",
                    section.to_uppercase(),
                    key.to_uppercase()
                );
                assert_eq!(row.get(1), Some(&env_name.as_str()), "{name}: env name");
                let shown = match value {
                    toml::Value::String(s) if s.is_empty() => "`\"\"`".to_owned(),
                    toml::Value::String(s) => format!("`{s}`"),
                    other => format!("`{other}`"),
                };
                assert_eq!(row.get(2), Some(&shown.as_str()), "{name}: default");
            }
        }
    }

    #[test]
    fn proxy_hops_counts_at_least_one_proxy() {
        let hops = |v: &str| load_from(None, &env(&[("WA_TWOSTEP_SERVER__PROXY_HOPS", v)]), &[]);
        assert_eq!(hops("2").unwrap().server.proxy_hops, 2);
        assert_eq!(Settings::default().server.proxy_hops, 1);
        for bad in ["0", "17"] {
            let e = hops(bad).unwrap_err().0;
            assert!(
                e.contains("server.proxy_hops") && e.contains("between 1 and 16"),
                "{e}"
            );
        }
    }

    #[test]
    fn public_url_is_empty_or_an_absolute_http_url_without_query() {
        let url = |v: &str| load_from(None, &env(&[("WA_TWOSTEP_SERVER__PUBLIC_URL", v)]), &[]);
        for good in [
            "",
            "https://sandbox.example.com/wa",
            "https://sandbox.example.com/wa/",
            "http://127.0.0.1:8443",
            "https://[::1]:8443/a/b",
        ] {
            assert_eq!(url(good).unwrap().server.public_url, good);
        }
        for bad in [
            "sandbox.example.com/wa",
            "/wa",
            "ftp://sandbox.example.com",
            "https://",
            "https://user@sandbox.example.com",
            "https://sandbox.example.com/wa?x=1",
            "https://sandbox.example.com/wa#top",
            "https://sandbox.example.com/w a",
        ] {
            let e = url(bad).unwrap_err().0;
            assert!(e.contains("server.public_url"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_cloud_section_is_checked_and_its_token_never_echoed() {
        let e = |pairs: &[(&str, &str)]| load_from(None, &env(pairs), &[]).unwrap_err().0;
        let err = e(&[("WA_TWOSTEP_CLOUD__WABA_ID", "12a")]);
        assert!(
            err.contains("cloud.waba_id") && err.contains("digits"),
            "{err}"
        );
        let err = e(&[("WA_TWOSTEP_CLOUD__PHONE_NUMBER_ID", "102290129340398")]);
        assert!(err.contains("must differ from cloud.waba_id"), "{err}");
        let err = e(&[("WA_TWOSTEP_CLOUD__OLDEST_VERSION", "21.0")]);
        assert!(
            err.contains("cloud.oldest_version") && err.contains("v22.0"),
            "{err}"
        );
        let err = e(&[("WA_TWOSTEP_CLOUD__LATEST_VERSION", "v20.0")]);
        assert!(
            err.contains("must not be newer than cloud.latest_version"),
            "{err}"
        );
        let err = e(&[("WA_TWOSTEP_CLOUD__MAX_REGISTRATIONS", "0")]);
        assert!(err.contains("cloud.max_registrations"), "{err}");
        let err = e(&[("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", "EAAshort-secret-ish")]);
        assert!(
            err.contains("cloud.access_token") && err.contains("EAA followed by"),
            "{err}"
        );
        assert!(!err.contains("EAAshort-secret-ish"), "{err}");
        let good = format!("EAA{}", "a1".repeat(20));
        let s = load_from(
            None,
            &env(&[("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", &good)]),
            &[],
        )
        .unwrap();
        assert_eq!(s.cloud.access_token.expose(), good);
        assert!(is_secret_key("cloud.access_token"));
    }

    #[test]
    fn graph_versions_parse_and_compare_as_numbers() {
        let v = |s| GraphVersion::parse(s);
        assert_eq!(
            v("v22.0"),
            Some(GraphVersion {
                major: 22,
                minor: 0
            })
        );
        assert!(v("v9.0") < v("v10.0"));
        for bad in [
            "v22",
            "22.0",
            "v22.0.1",
            "v+1.0",
            "v.0",
            "V22.0",
            "v1234567.0",
        ] {
            assert_eq!(v(bad), None, "{bad}");
        }
        assert_eq!(v("v21.3").unwrap().to_string(), "v21.3");
    }

    fn env_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        env(pairs)
    }
}
