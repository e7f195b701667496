//! Command-line flags. They override every other configuration source (docs/behaviour.md#configuration-and-command-line);
//! turning them into settings is `config`'s job, not this module's.

use std::path::PathBuf;

use clap::Parser;

/// `wa-twostep`: an emulator of the WhatsApp Business API Client's two-step verification settings.
#[derive(Debug, Parser)]
#[command(name = "wa-twostep", version, about)]
pub struct Cli {
    /// TOML configuration file (see config.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// State file path.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Seed file the state starts from (when no state file exists) and resets to.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Keep state in memory only; write nothing to disk.
    #[arg(long)]
    pub ephemeral: bool,
    /// Log format: pretty or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}
