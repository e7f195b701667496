//! Tests of the settings: layering, errors, validation.

use std::collections::HashMap;
use std::path::Path;

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
fn the_state_flag_wins_over_ephemeral_from_the_environment() {
    let cli =
        <crate::cli::Cli as clap::Parser>::parse_from(["wa-twostep", "--state", "/tmp/s.json"]);
    let e = env(&[("WA_TWOSTEP_STATE__EPHEMERAL", "true")]);
    let s = load_from(None, &e, &flag_overrides(&cli)).unwrap();
    assert!(!s.state.ephemeral, "--state must keep the file");
    assert_eq!(s.state.path, Path::new("/tmp/s.json"));
    assert!(load_from(None, &e, &[]).unwrap().state.ephemeral);
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
