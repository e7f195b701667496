//! Crash consistency: the real binary is killed with SIGKILL at random
//! moments while concurrent clients change the state (through `/v1`, and through
//! the Cloud API on a second number: set its PIN, register, deregister), then
//! restarted on the same state file. Every change acknowledged (2xx) before the
//! kill must be there after the restart; a change still in flight may have
//! happened or not, but nothing else. The clients are in `clients`.
//!
//! Black-box only: the test reads the state through the API and `/__sandbox/state`,
//! and checks that `state.json` (when it exists) is JSON; it does not assume any
//! other file layout, so companion files (a change log) are fine.

mod clients;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use self::clients::*;
use crate::support::*;

/// Cycles run by default (CI); `WA_TWOSTEP_CRASH_CYCLES` raises it.
const DEFAULT_CYCLES: u32 = 50;
/// Longest time the clients run before the kill.
const MAX_KILL_DELAY_MS: u64 = 250;
/// Concurrent clients creating and deleting users.
const USER_CLIENTS: u32 = 2;

/// xorshift64*: a tiny seeded generator, enough to spread the kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The Cloud number's PIN after a restart: the acknowledged one, or the one in
/// flight, as a register with it tells (which also registers the number).
async fn resolve_cloud_pin(app: &TestApp, model: &Shared, lost: &mut Vec<String>) {
    let (acked, pending) = {
        let m = model.lock().unwrap();
        (m.cloud_pin.acked.clone(), m.cloud_pin.pending.clone())
    };
    for candidate in std::iter::once(acked.clone()).chain(pending) {
        let resp = app
            .graph_register(CLOUD_TOKEN, CLOUD_NUMBER, &candidate)
            .await;
        if resp.status() == StatusCode::OK {
            let mut m = model.lock().unwrap();
            m.cloud_pin.resolve(candidate);
            m.cloud_registered.resolve(true);
            return;
        }
    }
    lost.push(format!(
        "the acknowledged Cloud PIN {acked:?} no longer registers"
    ));
}

/// Checks the restarted server against the model, resolves in-flight changes to
/// what actually happened, and returns an admin token. Each broken promise is
/// pushed to `lost`.
async fn check_and_resolve(app: &TestApp, model: &Shared, lost: &mut Vec<String>) -> String {
    let (password, pending_password, touched) = {
        let m = model.lock().unwrap();
        (
            m.password.acked.clone(),
            m.password.pending.clone(),
            m.touched.clone(),
        )
    };

    // The acknowledged password works, unless an in-flight change replaced it.
    let password_in_flight = pending_password.is_some();
    let mut token = None;
    for candidate in std::iter::once(password.clone()).chain(pending_password) {
        let resp = app.login("admin", &candidate, None).await;
        if resp.status() == StatusCode::OK {
            let body: Value = resp.json().await.expect("login body");
            token = Some(
                body["users"][0]["token"]
                    .as_str()
                    .expect("token")
                    .to_owned(),
            );
            model.lock().unwrap().password.resolve(candidate);
            break;
        }
    }
    let Some(token) = token else {
        lost.push(format!(
            "the acknowledged admin password {password:?} no longer works"
        ));
        // Nothing else can be checked through the API without a token.
        panic!("crash consistency broken: {lost:?}");
    };

    let state = app.sandbox_state().await;
    // A block, so the `std` lock is released before the next `.await`.
    let expected: Vec<(String, bool)> = {
        let mut m = model.lock().unwrap();
        let in_flight = u64::from(password_in_flight)
            + u64::from(m.two_step.pending.is_some())
            + u64::from(m.cloud_pin.pending.is_some())
            + u64::from(m.cloud_registered.pending.is_some())
            + m.users.values().filter(|u| u.pending.is_some()).count() as u64;
        m.in_flight += in_flight;

        let enabled = state["two_step"]["enabled"]
            .as_bool()
            .unwrap_or_else(|| panic!("two_step.enabled missing: {state}"));
        if !m.two_step.allows(&enabled) {
            lost.push(format!(
                "two-step enabled is {enabled}, expected {:?}",
                m.two_step
            ));
        }
        m.two_step.resolve(enabled);

        let registered = state["numbers"][1]["registered"]
            .as_bool()
            .unwrap_or_else(|| panic!("numbers[1].registered missing: {state}"));
        if !m.cloud_registered.allows(&registered) {
            lost.push(format!(
                "the Cloud number's registered is {registered}, expected {:?}",
                m.cloud_registered
            ));
        }
        m.cloud_registered.resolve(registered);

        let listed: std::collections::BTreeSet<&str> = state["users"]
            .as_array()
            .unwrap_or_else(|| panic!("users missing: {state}"))
            .iter()
            .filter_map(|u| u["username"].as_str())
            .collect();
        for (name, tracked) in m.users.iter_mut() {
            let exists = listed.contains(name.as_str());
            if !tracked.allows(&exists) {
                lost.push(format!("user {name} exists={exists}, expected {tracked:?}"));
            }
            tracked.resolve(exists);
        }
        m.touched.clear();
        touched
            .iter()
            .map(|n| (n.clone(), m.users[n].acked))
            .collect()
    };

    resolve_cloud_pin(app, model, lost).await;

    // The users touched in the last cycle, one by one through the real API.
    for (name, exists) in expected {
        let resp = app
            .request(Method::GET, &format!("/v1/users/{name}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get user");
        let want = if exists {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        if resp.status() != want {
            lost.push(format!(
                "GET /v1/users/{name} answered {} but /__sandbox/state says exists={exists}",
                resp.status()
            ));
        }
    }
    token
}

/// When `state.json` exists it must be readable JSON (never a torn write).
fn assert_state_file_is_json(app: &TestApp, cycle: u32) {
    if let Ok(bytes) = std::fs::read(&app.state_path) {
        if let Err(e) = serde_json::from_slice::<Value>(&bytes) {
            panic!(
                "cycle {cycle}: state.json is not JSON after SIGKILL ({e}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_change_is_lost_when_the_server_is_killed_at_random_moments() {
    // Arrange
    let cycles: u32 = std::env::var("WA_TWOSTEP_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    let seed = std::env::var("WA_TWOSTEP_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
        })
        | 1;
    eprintln!("crash consistency: seed {seed} (WA_TWOSTEP_CRASH_SEED replays the kill delays)");
    let mut rng = Rng(seed);
    // Failed logins are expected (an in-flight password change may or may not
    // have happened): keep the login limiter out of the way, and the register
    // budget too. The seed adds the number the Cloud client changes.
    let seed_dir = tempfile::tempdir().expect("seed dir");
    let seed_file = seed_dir.path().join("seed.toml");
    let text = format!(
        "[[numbers]]\nid = \"{CLOUD_NUMBER}\"\ndisplay_phone_number = \"+1 5550199\"\nregistered = false\npin = \"{CLOUD_SEED_PIN}\"\n"
    );
    std::fs::write(&seed_file, text).expect("seed");
    let spawn = cloud_spawn()
        .env("WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS", "1000000")
        .env("WA_TWOSTEP_CLOUD__MAX_REGISTRATIONS", "1000000000")
        .arg("--seed")
        .arg(seed_file.to_str().expect("seed path"));
    let mut app = spawn.clone().start().await;
    let first = app
        .login(
            "admin",
            SEED_PASSWORD,
            Some(json!({"new_password": ADMIN_PASSWORD})),
        )
        .await;
    let first = expect_status(first, 200).await;
    let mut token = first["users"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let model: Shared = Arc::new(Mutex::new(Model {
        password: Tracked::new(ADMIN_PASSWORD.to_owned()),
        two_step: Tracked::new(false),
        cloud_pin: Tracked::new(CLOUD_SEED_PIN.to_owned()),
        cloud_registered: Tracked::new(false),
        users: BTreeMap::new(),
        touched: Vec::new(),
        acked: 1,
        in_flight: 0,
    }));
    let mut lost = Vec::new();
    let mut checked = 0u64;
    let started = Instant::now();

    for cycle in 0..cycles {
        // Act: concurrent changes, then SIGKILL at a random moment
        let side = Arc::new(app.remote());
        let mut clients = vec![
            tokio::spawn(password_client(side.clone(), model.clone(), cycle)),
            tokio::spawn(two_step_client(side.clone(), model.clone(), token.clone())),
            tokio::spawn(cloud_client(side.clone(), model.clone(), cycle)),
        ];
        for id in 0..USER_CLIENTS {
            clients.push(tokio::spawn(user_client(
                side.clone(),
                model.clone(),
                token.clone(),
                cycle,
                id,
            )));
        }
        tokio::time::sleep(Duration::from_millis(rng.below(MAX_KILL_DELAY_MS + 1))).await;
        app.kill();
        for client in clients {
            client.await.expect("a client panicked");
        }

        // Assert: readable state, the server starts on it and shows every acknowledged change
        assert_state_file_is_json(&app, cycle);
        checked += std::mem::take(&mut model.lock().unwrap().acked);
        let mut restart = spawn.clone();
        restart.dir = Some(app.dir.clone());
        app = restart.start().await;
        token = check_and_resolve(&app, &model, &mut lost).await;
        assert!(lost.is_empty(), "cycle {cycle} (seed {seed}): {lost:#?}");
    }

    eprintln!(
        "crash consistency: {cycles} cycles, {checked} acknowledged changes checked, {} lost \
         ({} changes in flight at a kill, {:.1} s)",
        lost.len(),
        model.lock().unwrap().in_flight,
        started.elapsed().as_secs_f64()
    );
    assert!(lost.is_empty(), "acknowledged changes lost: {lost:#?}");
    assert!(
        checked > u64::from(cycles),
        "too few changes were acknowledged to prove anything: {checked}"
    );
}
