//! What types alone cannot check (ranges, cross-key rules), the redacted TOML,
//! and values derived from the settings.

use std::collections::HashMap;

use super::load::Layers;
use super::*;

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
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
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
