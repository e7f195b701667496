//! Typed settings, layered: built-in defaults < TOML file (`--config`) <
//! `WA_TWOSTEP_<SECTION>__<KEY>` environment < command-line flags (docs/behaviour.md#configuration-and-command-line).
//! Everything is validated once, at start; a bad key or value is an error that
//! names it, says where it came from (file, variable or flag) and echoes the value
//! unless the key holds a secret (the binary exits 2). Nothing here is read again
//! after start-up.
//!
//! Here: the sections and their defaults. [`load`] merges the layers and
//! deserializes; `validate` checks what types cannot and writes the redacted TOML.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::secret::Secret;

mod load;
#[cfg(test)]
mod tests;
mod validate;

pub use load::{flag_overrides, load, load_from, Override};

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
            business_email: "admin@example.com".into(),
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
    /// Parses `v22.0` with parts of at most six digits, as a setting must be;
    /// `None` for anything else (`v22`, `22.0`, `v22.0.1`, `v+1.0`).
    pub fn parse(s: &str) -> Option<GraphVersion> {
        Self::parse_parts(s, 6)
    }

    /// Parses a version asked for in a path: parts of any length, a part too big
    /// for a `u32` read as `u32::MAX`, so an absurdly new version is still a
    /// version (newer than any served: 2500), not some other path.
    pub fn parse_asked(s: &str) -> Option<GraphVersion> {
        Self::parse_parts(s, usize::MAX)
    }

    fn parse_parts(s: &str, max_digits: usize) -> Option<GraphVersion> {
        let (major, minor) = s.strip_prefix('v')?.split_once('.')?;
        let number = |t: &str| {
            let ok = (1..=max_digits).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
            // All digits: the only parse error left is overflow.
            ok.then(|| t.parse().unwrap_or(u32::MAX))
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
