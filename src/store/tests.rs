//! Store tests: group commit, and a write failure at every step of the write path
//! answers the error, leaves memory as it was, and leaves the last acknowledged
//! state on disk.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::state::TwoStepRecord;
use super::*;
use crate::secret::Secret;

fn seed() -> State {
    crate::store::state::test_state(true)
}

fn set_two_step(enabled: bool, at: i64) -> impl FnOnce(&mut Tx<'_>) -> Result<(), ()> {
    move |tx| {
        let two_step = TwoStepRecord {
            enabled,
            pin_hash: enabled.then(|| Secret::new("p")),
            updated_at_ms: Some(at),
        };
        tx.push(Op::SetNumberTwoStep {
            number: "1".into(),
            two_step,
        });
        Ok(())
    }
}

/// A hook that fails `step` once.
fn fail_once(step: WriteStep) -> FailHook {
    let fired = AtomicBool::new(false);
    Arc::new(move |s| {
        if s == step && !fired.swap(true, Ordering::SeqCst) {
            Err(std::io::Error::other(format!("injected failure at {s:?}")))
        } else {
            Ok(())
        }
    })
}

fn open(path: &std::path::Path) -> Store {
    let (file, state) = StateFile::open(path, &Upgrade::for_tests()).expect("open");
    Store::new(Some(file), state.unwrap_or_else(seed))
}

fn reopened(path: &std::path::Path) -> State {
    let (_file, state) = StateFile::open(path, &Upgrade::for_tests()).expect("reopen");
    state.expect("a state on disk")
}

#[tokio::test]
async fn a_failure_at_any_step_fails_the_change_and_changes_nothing() {
    let snapshot_steps = [
        WriteStep::CreateTemp,
        WriteStep::WriteTemp,
        WriteStep::SyncTemp,
        WriteStep::OpenDir,
        WriteStep::Rename,
        WriteStep::SyncDir,
    ];
    let log_steps = [WriteStep::AppendLog, WriteStep::SyncLog];
    for step in snapshot_steps.into_iter().chain(log_steps) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = open(&path);
        // The first change writes the snapshot; later ones append to the log.
        let first_fails = snapshot_steps.contains(&step);
        if !first_fails {
            store
                .commit(set_two_step(true, 1))
                .await
                .expect("first change");
        }
        let before = store.read(Clone::clone);
        store.set_fail_hook(fail_once(step));

        let result = store
            .commit(set_two_step(!before.numbers[0].two_step.enabled, 2))
            .await;

        assert!(
            matches!(result, Err(CommitError::Io(_))),
            "{step:?}: {result:?}"
        );
        assert_eq!(
            store.read(|s| s.numbers[0].two_step.clone()),
            before.numbers[0].two_step,
            "{step:?}: memory changed"
        );
        store.close();
        match StateFile::open(&path, &Upgrade::for_tests())
            .expect("reopen")
            .1
        {
            Some(on_disk) => {
                assert_eq!(
                    on_disk.numbers[0].two_step, before.numbers[0].two_step,
                    "{step:?}: disk changed"
                )
            }
            None => assert!(
                first_fails,
                "{step:?}: the acknowledged first change is gone"
            ),
        }
        // The next change succeeds and is durable.
        let store = open(&path);
        store
            .commit(set_two_step(true, 3))
            .await
            .expect("{step:?}: later change");
        store.close();
        assert_eq!(
            reopened(&path).numbers[0].two_step.updated_at_ms,
            Some(3),
            "{step:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_changes_share_fsyncs_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = Arc::new(open(&path));
    store.commit(set_two_step(false, 0)).await.unwrap();
    // A slow fsync lets changes pile up behind it, as under real load.
    store.set_fail_hook(Arc::new(|step| {
        if step == WriteStep::SyncLog {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Ok(())
    }));
    let batches_before = store.stats().batches.load(Ordering::Relaxed);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .commit(move |tx| {
                        let digest = format!("token-{i}");
                        let token = state::TokenRecord {
                            username: "admin".into(),
                            expires_at: i64::MAX,
                            issued_ms: 0,
                        };
                        tx.push(Op::PutToken { digest, token });
                        Ok::<_, ()>(())
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("acknowledged");
    }
    let batches = store.stats().batches.load(Ordering::Relaxed) - batches_before;
    assert!(
        batches < 200,
        "200 concurrent changes took {batches} fsyncs"
    );
    assert_eq!(store.read(|s| s.tokens.len()), 200);
    store.close();
    assert_eq!(reopened(&path).tokens.len(), 200);
}

#[tokio::test]
async fn a_rejected_change_writes_nothing_and_others_in_its_batch_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = open(&path);
    let rejected = store
        .commit(|tx| {
            tx.push(Op::DeleteUser {
                username: "admin".into(),
            });
            Err::<(), _>("no")
        })
        .await;
    assert!(matches!(rejected, Err(CommitError::Rejected("no"))));
    assert!(!path.exists(), "a rejected change created the state file");
    store.commit(set_two_step(true, 5)).await.unwrap();
    store.close();
    let on_disk = reopened(&path);
    assert!(on_disk.users.contains_key("admin"));
    assert!(on_disk.numbers[0].two_step.enabled);
}

/// A change carrying a ~4 KiB value, so a few hundred of them outgrow the log's floor.
fn big_change(i: i64) -> impl FnOnce(&mut Tx<'_>) -> Result<(), ()> {
    move |tx| {
        let two_step = TwoStepRecord {
            enabled: true,
            pin_hash: Some(Secret::new("x".repeat(4096))),
            updated_at_ms: Some(i),
        };
        tx.push(Op::SetNumberTwoStep {
            number: "1".into(),
            two_step,
        });
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_compaction_loses_no_change_and_is_retried_one_interval_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = open(&path);
    store.commit(big_change(0)).await.expect("first snapshot");
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    store.set_fail_hook(Arc::new(move |s| {
        if s != WriteStep::CreateTemp {
            return Ok(());
        }
        match seen.fetch_add(1, Ordering::SeqCst) {
            0 => Err(std::io::Error::other(
                "injected: the first compaction fails",
            )),
            _ => Ok(()),
        }
    }));
    // ~3.2 MiB of records: the 1 MiB log floor is crossed three times.
    for i in 1..=800 {
        store
            .commit(big_change(i))
            .await
            .expect("every change is durable");
    }
    store.close();
    let tried = attempts.load(Ordering::SeqCst);
    assert!(
        (2..=4).contains(&tried),
        "compaction tried {tried} times: not retried, or retried at every write"
    );
    let log_len = std::fs::metadata(dir.path().join("state.json.log"))
        .unwrap()
        .len();
    assert!(
        log_len < 2 << 20,
        "the log was not compacted after the failure: {log_len} bytes"
    );
    assert_eq!(reopened(&path).numbers[0].two_step.updated_at_ms, Some(800));
}

#[tokio::test]
async fn the_log_is_folded_into_a_snapshot_when_it_outgrows_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = open(&path);
    // Each record carries a ~4 KiB hash, so 400 records exceed the 1 MiB floor.
    let big = "x".repeat(4096);
    for i in 0..400 {
        let big = big.clone();
        store
            .commit(move |tx| {
                let two_step = TwoStepRecord {
                    enabled: true,
                    pin_hash: Some(Secret::new(big)),
                    updated_at_ms: Some(i),
                };
                tx.push(Op::SetNumberTwoStep {
                    number: "1".into(),
                    two_step,
                });
                Ok::<_, ()>(())
            })
            .await
            .unwrap();
    }
    store.close();
    let log_len = std::fs::metadata(dir.path().join("state.json.log"))
        .unwrap()
        .len();
    assert!(
        log_len < 1 << 20,
        "log was never compacted: {log_len} bytes"
    );
    assert_eq!(reopened(&path).numbers[0].two_step.updated_at_ms, Some(399));
}

#[tokio::test]
async fn a_panicking_change_fails_alone_and_the_writer_keeps_going() {
    let store = Store::new(None, seed());
    let panicked = store
        .commit(|_tx| -> Result<(), ()> { panic!("a bug in a change function") })
        .await;
    assert!(matches!(panicked, Err(CommitError::Io(_))), "{panicked:?}");
    store
        .commit(set_two_step(true, 1))
        .await
        .expect("a later change");
    assert!(store.read(|s| s.numbers[0].two_step.enabled));
}
