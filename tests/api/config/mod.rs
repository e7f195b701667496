//! Configuration: the config file, environment and precedence (`settings`), the command line, ready line, log format and exit statuses (`cli`), and `--print-config` and `--help` (`print_config`).

mod cli;
mod print_config;
mod settings;
mod startup_errors;
