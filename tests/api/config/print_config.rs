//! `--print-config` prints the effective configuration as TOML (every layer
//! applied, secrets redacted) and exits 0 without starting; `--help` says where
//! the example configuration is.

use super::settings::{example_config, write_config};
use crate::support::*;

const CONTROL_SECRET: &str = "control-token-nobody-may-see";
const PASSWORD_SECRET: &str = "Admin-Pa55-nobody-may-see";

#[test]
fn print_config_prints_every_layer_redacts_secrets_and_exits_0_without_starting() {
    // Arrange: a file, the environment and a flag each set something.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_config(
        dir.path(),
        "[api]\nversion = \"v9\"\n[server]\nproxy_hops = 2\n",
    );
    let env = [
        ("WA_TWOSTEP_CONTROL__TOKEN", CONTROL_SECRET),
        ("WA_TWOSTEP_AUTH__ADMIN_PASSWORD", PASSWORD_SECRET),
    ];

    // Act
    let (status, out, err) = run_to_exit(
        &[
            "--print-config",
            "--config",
            &file,
            "--listen",
            "127.0.0.1:9999",
        ],
        &env,
        dir.path(),
    );

    // Assert
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(
        !out.contains(CONTROL_SECRET) && !out.contains(PASSWORD_SECRET),
        "{out}"
    );
    assert!(!out.contains("listening on"), "{out}");
    let printed: toml::Table = toml::from_str(&out).expect("the output is TOML");
    assert_eq!(printed["api"]["version"].as_str(), Some("v9"));
    assert_eq!(printed["server"]["proxy_hops"].as_integer(), Some(2));
    assert_eq!(printed["server"]["listen"].as_str(), Some("127.0.0.1:9999"));
    assert_eq!(printed["control"]["token"].as_str(), Some("<redacted>"));
    assert_eq!(
        printed["auth"]["admin_password"].as_str(),
        Some("<redacted>")
    );
    // An unset secret shows as unset.
    assert_eq!(printed["auth"]["api_key"].as_str(), Some(""));
    // Every key of the example, and no other.
    let example: toml::Table =
        toml::from_str(&std::fs::read_to_string(example_config()).unwrap()).unwrap();
    for (section, keys) in &example {
        let got: Vec<_> = printed[section].as_table().expect(section).keys().collect();
        let want: Vec<_> = keys.as_table().unwrap().keys().collect();
        assert_eq!(got, want, "[{section}]");
    }
    assert_eq!(
        printed.keys().collect::<Vec<_>>(),
        example.keys().collect::<Vec<_>>()
    );
    // Nothing started: no state file, no lock.
    assert!(!dir.path().join("state.json.lock").exists());
    assert!(!dir.path().join("wa-twostep-state.json.lock").exists());
}

#[test]
fn print_config_with_a_bad_value_exits_2_naming_it() {
    let (code, _out, err) = run_in_temp_dir(
        &["--print-config"],
        &[("WA_TWOSTEP_SERVER__PROXY_HOPS", "0")],
    );

    assert_eq!(code, Some(2), "stderr: {err}");
    assert!(err.contains("server.proxy_hops"), "{err}");
}

#[test]
fn help_says_where_the_example_configuration_is() {
    let (code, out, err) = run_in_temp_dir(&["--help"], &[]);

    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(out.contains("config.example.toml"), "{out}");
    assert!(out.contains("--print-config"), "{out}");
}
