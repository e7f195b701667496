//! Loading: the layers (defaults, file, environment, flags) merged into one
//! table, each value remembering where it came from, then deserialized and checked.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::cli::Cli;

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
        // `--state FILE` asks for that file: it also wins over `state.ephemeral =
        // true` from a file or the environment, which would drop it silently.
        set("state", "ephemeral", toml::Value::Boolean(false));
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
pub(super) enum Origin {
    /// The config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
}

/// The layered table with the origin of every key that is not a default.
pub(super) struct Layers {
    /// `section` or `section.key` → where its value came from.
    pub(super) origins: HashMap<String, Origin>,
    /// The merged table.
    pub(super) table: toml::Table,
}

impl Layers {
    /// A one-line error about `key`: where its value came from, the value itself
    /// (unless `echo` is false, the key is a secret or the value is a whole
    /// section), then why it was refused.
    pub(super) fn error(&self, key: &str, echo: bool, why: &str) -> ConfigError {
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
