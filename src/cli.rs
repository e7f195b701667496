//! Command-line flags. They override every other configuration source (docs/behaviour.md#configuration-and-command-line);
//! turning them into settings is `config`'s job, not this module's. Flag values that
//! can be checked alone are checked here, so a bad one is reported under the flag's
//! own name (clap exits 2, like every configuration error).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Where to find the example configuration, shown under `--help`.
const CONFIG_HELP: &str = "\
Configuration: built-in defaults < --config FILE < WA_TWOSTEP_<SECTION>__<KEY> environment < flags.
The example configuration, every key with its default, environment variable and meaning, is
config.example.toml at the top of the source tree (a `cargo install --git` checkout keeps it
under ~/.cargo/git/checkouts/). `wa-twostep --print-config` prints the effective configuration
(secrets redacted) to start a file from.";

/// `wa-twostep`: an emulator of the WhatsApp Business API Client's two-step verification settings.
#[derive(Debug, Parser)]
#[command(name = "wa-twostep", version, about, after_help = CONFIG_HELP)]
pub struct Cli {
    /// TOML configuration file; config.example.toml in the source tree lists every key.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (defaults, file, environment and flags) as
    /// TOML with secrets redacted, and exit 0 without starting the server.
    #[arg(long)]
    pub print_config: bool,
    /// Address to listen on: an IP address and port such as 127.0.0.1:8080 or [::1]:8080
    /// (host names are not resolved; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub listen: Option<SocketAddr>,
    /// State file path (its directory must exist).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Seed file the state starts from (when no state file exists) and resets to.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Keep state in memory only; write nothing to disk (not with --state).
    #[arg(long, conflicts_with = "state")]
    pub ephemeral: bool,
    /// Log format: pretty or json.
    #[arg(long, value_name = "FORMAT", value_parser = ["pretty", "json"])]
    pub log_format: Option<String>,
}

/// Parses a listen address (the flag, and `server.listen` in every other source).
/// Only literal IP addresses are taken: resolving a host name could pick IPv4 or
/// IPv6 depending on the machine, so the address bound would not be the one
/// written in the configuration.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        "expected an IP address and port such as 127.0.0.1:8080 or [::1]:8080 \
         (host names such as localhost are not resolved)"
            .to_owned()
    })
}
