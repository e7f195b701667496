//! State file tests: the instance lock, snapshots and log records read back with
//! private permissions, recovery from a torn or garbled log, record checksums,
//! the directory opened before the rename, and the README's backup order (log
//! first, then snapshot) across a compaction.

use super::*;
use crate::secret::Secret;
use crate::store::state::TwoStepRecord;

fn enable(seq: u64) -> (Op, State) {
    let op = Op::SetNumberTwoStep {
        number: "1".into(),
        two_step: TwoStepRecord {
            enabled: true,
            pin_hash: Some(Secret::new("h")),
            updated_at_ms: Some(seq as i64),
        },
    };
    let mut s = crate::store::state::test_state(true);
    s.apply(&op);
    s.seq = seq;
    (op, s)
}

/// Opens `path` and writes a first batch (a snapshot) that enables two-step.
fn first_snapshot(path: &Path) -> (StateFile, State) {
    let (mut file, _) = StateFile::open(path, &Upgrade::for_tests()).unwrap();
    let seed = crate::store::state::test_state(true);
    let (op1, s1) = enable(1);
    file.persist(&s1, &[op1], || seed.clone()).unwrap();
    (file, s1)
}

#[test]
fn a_second_open_of_the_same_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (_first, none) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    assert!(none.is_none());
    let err = StateFile::open(&path, &Upgrade::for_tests()).unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }), "{err}");
}

#[test]
fn snapshots_and_log_records_read_back_and_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, _) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    let seed = crate::store::state::test_state(true);
    let (op1, s1) = enable(1);
    file.persist(&s1, std::slice::from_ref(&op1), || seed.clone())
        .unwrap();
    let mut s2 = s1.clone();
    let op2 = Op::DeleteToken { digest: "x".into() };
    s2.apply(&op2);
    s2.seq = 2;
    file.persist(&s2, &[op2], || s1.clone()).unwrap();
    assert!(file.log_len > 0, "the second batch is a log append");
    for p in [&path, &sibling(&path, ".log"), &sibling(&path, ".lock")] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    drop(file);
    let (_f, back) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    assert_eq!(back.unwrap(), s2);
}

#[test]
fn files_copied_in_with_a_looser_mode_are_made_private_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, s1) = first_snapshot(&path);
    let mut s2 = s1.clone();
    let op = Op::DeleteToken { digest: "x".into() };
    s2.apply(&op);
    s2.seq = 2;
    file.persist(&s2, &[op], || s1.clone()).unwrap();
    drop(file);
    let files = [
        path.clone(),
        sibling(&path, ".log"),
        sibling(&path, ".lock"),
    ];
    for p in &files {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let (_f, back) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();

    assert_eq!(back.unwrap(), s2);
    for p in &files {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
}

#[test]
fn a_torn_last_record_is_cut_and_earlier_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, s1) = first_snapshot(&path);
    let mut s2 = s1.clone();
    s2.seq = 2;
    file.persist(&s2, &[], || s1.clone()).unwrap();
    drop(file);
    let log = sibling(&path, ".log");
    let mut bytes = std::fs::read(&log).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(b"{\"seq\":3,\"ops\":[{\"op\":\"dele");
    std::fs::write(&log, &bytes).unwrap();
    let (_f, back) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    assert_eq!(back.unwrap().seq, 2);
    assert_eq!(std::fs::read(&log).unwrap().len(), whole);
}

#[test]
fn a_garbled_record_in_the_middle_refuses_to_start_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (file, _) = first_snapshot(&path);
    drop(file);
    let log = sibling(&path, ".log");
    std::fs::write(&log, b"garbage\n{\"seq\":2,\"ops\":[]}\n").unwrap();
    let err = StateFile::open(&path, &Upgrade::for_tests()).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    assert_eq!(
        std::fs::read(&log).unwrap(),
        b"garbage\n{\"seq\":2,\"ops\":[]}\n"
    );
}

/// Opens `path`, writes the first snapshot and one appended record (seq 2).
fn snapshot_and_one_record(path: &Path) -> State {
    let (mut file, s1) = first_snapshot(path);
    let mut s2 = s1.clone();
    s2.seq = 2;
    file.persist(&s2, &[], || s1.clone()).unwrap();
    s2
}

#[test]
fn a_bad_last_record_that_ends_in_a_newline_is_cut_as_torn() {
    for torn in [
        &b"{\"seq\":3,\"ops\":[{\"op\":\"dele\n"[..],
        &b"00000000 {\"seq\":3,\"ops\":[]}\n"[..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        snapshot_and_one_record(&path);
        let log = sibling(&path, ".log");
        let whole = std::fs::read(&log).unwrap();
        let mut bytes = whole.clone();
        bytes.extend_from_slice(torn);
        std::fs::write(&log, &bytes).unwrap();
        let (_f, back) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
        assert_eq!(back.unwrap().seq, 2);
        assert_eq!(std::fs::read(&log).unwrap(), whole);
    }
}

#[test]
fn a_record_that_fails_its_checksum_with_records_after_it_refuses_start_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, s1) = first_snapshot(&path);
    let (op, mut s2) = enable(2);
    s2.numbers[0].two_step.updated_at_ms = Some(2);
    file.persist(&s2, &[op], || s1.clone()).unwrap();
    let mut s3 = s2.clone();
    s3.seq = 3;
    file.persist(&s3, &[], || s2.clone()).unwrap();
    drop(file);
    let log = sibling(&path, ".log");
    let text = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    // Still valid JSON, but not what was written: only the checksum can tell.
    let corrupt = text.replacen("\"updated_at_ms\":2", "\"updated_at_ms\":7", 1);
    assert_ne!(corrupt, text);
    std::fs::write(&log, &corrupt).unwrap();
    let err = StateFile::open(&path, &Upgrade::for_tests())
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1") && err.contains("checksum"), "{err}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), corrupt);
}

#[test]
fn a_log_line_is_the_checksum_in_hex_a_space_the_record_and_a_newline_whatever_the_buffer_held() {
    let (op, _) = enable(7);
    let record = serde_json::to_vec(&RecordOut {
        seq: 7,
        ops: std::slice::from_ref(&op),
    })
    .unwrap();
    let mut expected = format!("{:08x} ", crc32c::crc32c(&record)).into_bytes();
    expected.extend_from_slice(&record);
    expected.push(b'\n');
    let mut line = b"left over from a longer line before".repeat(10);
    encode_record(&mut line, 7, std::slice::from_ref(&op)).unwrap();
    assert_eq!(line, expected);
    let parsed = parse_record(&line).unwrap();
    assert_eq!(parsed.seq, 7);
    assert_eq!(parsed.ops.len(), 1);
    // All eight digits, as `{:08x}` writes them.
    encode_record(&mut line, 8, &[]).unwrap();
    let crc = crc32c::crc32c(br#"{"seq":8,"ops":[]}"#);
    assert_eq!(
        line,
        format!("{crc:08x} {{\"seq\":8,\"ops\":[]}}\n").into_bytes()
    );
}

#[test]
fn records_without_a_checksum_from_earlier_releases_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    drop(first_snapshot(&path));
    let log = sibling(&path, ".log");
    std::fs::write(
        &log,
        b"{\"seq\":2,\"ops\":[{\"op\":\"delete_token\",\"digest\":\"x\"}]}\n",
    )
    .unwrap();
    let (mut file, back) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    let back = back.unwrap();
    assert_eq!(back.seq, 2);
    let mut s3 = back.clone();
    s3.seq = 3;
    file.persist(&s3, &[], || back.clone()).unwrap();
    drop(file);
    assert_eq!(
        StateFile::open(&path, &Upgrade::for_tests())
            .unwrap()
            .1
            .unwrap()
            .seq,
        3
    );
}

#[test]
fn the_directory_is_opened_before_the_rename() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, _) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    let steps = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = steps.clone();
    file.set_fail_hook(std::sync::Arc::new(move |step| {
        seen.lock().unwrap().push(step);
        Ok(())
    }));
    let seed = crate::store::state::test_state(true);
    let (op1, s1) = enable(1);
    file.persist(&s1, &[op1], || seed.clone()).unwrap();
    let steps = steps.lock().unwrap().clone();
    let at = |s| steps.iter().position(|x| *x == s).unwrap();
    assert!(at(WriteStep::OpenDir) < at(WriteStep::Rename), "{steps:?}");
    assert!(at(WriteStep::Rename) < at(WriteStep::SyncDir), "{steps:?}");
}

/// `state` after one more change (a token revoked), numbered `seq`.
fn next(state: &State, seq: u64) -> (Op, State) {
    let op = Op::DeleteToken {
        digest: format!("t{seq}"),
    };
    let mut s = state.clone();
    s.apply(&op);
    s.seq = seq;
    (op, s)
}

/// Copies `<path><suffix>` into `backup` (the README's backup recipe, one file).
fn copy(path: &Path, suffix: &str, backup: &Path) {
    let from = sibling(path, suffix);
    let name = format!("s.json{suffix}");
    std::fs::copy(from, backup.join(name)).unwrap();
}

#[test]
fn a_backup_copied_log_first_then_snapshot_restores_even_across_a_compaction() {
    // The README's Deploying / Backups: while the server runs, copy the log, then
    // the snapshot.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, s1) = first_snapshot(&path);
    let (op2, s2) = next(&s1, 2);
    file.persist(&s2, &[op2], || s1.clone()).unwrap();
    let backup = tempfile::tempdir().unwrap();

    copy(&path, ".log", backup.path());
    // A compaction between the two copies: a new snapshot, the log emptied.
    file.compact_at = 0;
    let (op3, s3) = next(&s2, 3);
    file.persist(&s3, &[op3], || s2.clone()).unwrap();
    assert_eq!(file.log_len, 0, "the batch compacted");
    copy(&path, "", backup.path());

    // The earlier log's records are in the later snapshot: skipped, not replayed.
    let (_f, restored) =
        StateFile::open(&backup.path().join("s.json"), &Upgrade::for_tests()).unwrap();
    assert_eq!(restored.unwrap(), s3);
}

#[test]
fn a_backup_copied_snapshot_first_across_a_compaction_is_refused_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut file, s1) = first_snapshot(&path);
    let backup = tempfile::tempdir().unwrap();

    copy(&path, "", backup.path());
    let (op2, s2) = next(&s1, 2);
    file.persist(&s2, &[op2], || s1.clone()).unwrap();
    // A compaction between the two copies, then one more change in the new log.
    file.compact_at = 0;
    let (op3, s3) = next(&s2, 3);
    file.persist(&s3, &[op3], || s2.clone()).unwrap();
    assert_eq!(file.log_len, 0, "the batch compacted");
    let (op4, s4) = next(&s3, 4);
    file.persist(&s4, &[op4], || s3.clone()).unwrap();
    copy(&path, ".log", backup.path());

    // Records 2 and 3 (only in the newer snapshot) are missing between the two copies.
    let err = StateFile::open(&backup.path().join("s.json"), &Upgrade::for_tests()).unwrap_err();
    assert!(err.to_string().contains("follows"), "{err}");
}

#[test]
fn a_schema_1_snapshot_and_log_load_upgraded_and_the_next_batch_writes_schema_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let v1 = br#"{"schema":1,"seq":1,"users":{},"tokens":{},"two_step":{"enabled":false,"pin_hash":null,"updated_at_ms":null},"account":{"registered":false}}"#;
    std::fs::write(&path, v1).unwrap();
    let record = br#"{"seq":2,"ops":[{"op":"set_two_step","two_step":{"enabled":true,"pin_hash":"p","updated_at_ms":5}},{"op":"set_account","account":{"registered":true}}]}"#;
    let mut log = format!("{:08x} ", crc32c::crc32c(record)).into_bytes();
    log.extend_from_slice(record);
    log.push(b'\n');
    std::fs::write(sibling(&path, ".log"), &log).unwrap();

    let (mut file, back) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    let back = back.unwrap();
    assert_eq!((back.schema, back.seq), (SCHEMA, 2));
    assert!(back.first_number().registered && back.first_number().two_step.enabled);
    let op = Op::SetNumberRegistered {
        number: "1".into(),
        registered: false,
    };
    let mut next = back.clone();
    next.apply(&op);
    next.seq = 3;
    file.persist(&next, &[op], || back.clone()).unwrap();

    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        on_disk["schema"], SCHEMA,
        "the batch wrote a schema-2 snapshot"
    );
    assert!(std::fs::read(sibling(&path, ".log")).unwrap().is_empty());
    drop(file);
    let (_f, again) = StateFile::open(&path, &Upgrade::for_tests()).unwrap();
    assert_eq!(again.unwrap(), next);
}
