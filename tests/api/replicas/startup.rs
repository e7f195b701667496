//! Start-up against the database: retried for `state.connect_timeout_secs`, then
//! exit 1 naming host and database (never the password); a newer schema refuses
//! the start; a bad URL is a configuration error.

use std::time::{Duration, Instant};

use crate::support::nginx::free_port;
use crate::support::postgres::{replica, Postgres, PG_PASSWORD};
use crate::support::*;

fn postgres_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WA_TWOSTEP_STATE__BACKEND", "postgres".into()),
        ("WA_TWOSTEP_STATE__POSTGRES_URL", url.into()),
        ("WA_TWOSTEP_STATE__CONNECT_TIMEOUT_SECS", "2".into()),
    ]
}

fn run(url: &str) -> (Option<i32>, String, Duration) {
    let env = postgres_env(url);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    let (code, _out, err) = run_in_temp_dir(&["--listen", "127.0.0.1:0"], &env);
    (code, err, started.elapsed())
}

#[tokio::test]
async fn an_unreachable_database_is_retried_then_exit_1_naming_it_without_the_password() {
    let port = free_port();
    let url = format!("postgres://wa:{PG_PASSWORD}@127.0.0.1:{port}/sandbox");
    let (code, err, took) = run(&url);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        took >= Duration::from_secs(2),
        "retried for the timeout: {took:?}"
    );
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "names the host: {err}"
    );
    assert!(err.contains("sandbox"), "names the database: {err}");
    assert!(!err.contains(PG_PASSWORD), "never the password: {err}");
}

#[tokio::test]
async fn a_database_that_comes_up_within_the_timeout_is_waited_for() {
    let mut pg = Postgres::start();
    let url = pg.create_database("sandbox");
    pg.stop();
    let starting = replica(&url)
        .env("WA_TWOSTEP_STATE__CONNECT_TIMEOUT_SECS", "30")
        .start();
    let (app, ()) = tokio::join!(starting, async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        pg.start_again();
    });
    app.assert_probe_ok().await;
    app.admin_token().await;
}

#[tokio::test]
async fn a_newer_schema_refuses_the_start_and_is_left_untouched() {
    let pg = Postgres::start();
    let url = pg.create_database("sandbox");
    let mut first = replica(&url).start().await;
    first.admin_token().await;
    assert!(first.stop().success());
    pg.psql("sandbox", "UPDATE wa_twostep_meta SET version = 99");

    let (code, err, _) = run(&url);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("schema version 99"), "{err}");
    assert!(!err.contains(PG_PASSWORD), "{err}");
    assert_eq!(
        pg.psql("sandbox", "SELECT version FROM wa_twostep_meta"),
        "99"
    );
}

#[test]
fn a_url_that_is_not_postgres_is_a_configuration_error() {
    let (code, _out, err) = run_in_temp_dir(
        &["--listen", "127.0.0.1:0"],
        &[
            ("WA_TWOSTEP_STATE__BACKEND", "postgres"),
            (
                "WA_TWOSTEP_STATE__POSTGRES_URL",
                "mysql://root:hunter2@db/x",
            ),
        ],
    );
    assert_one_line_config_error(code, &err);
    assert!(err.contains("state.postgres_url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
