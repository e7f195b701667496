//! Configuration: the config file, environment and precedence (`settings`), and the command line, ready line, log format and exit statuses (`cli`).

mod cli;
mod settings;
mod startup_errors;
