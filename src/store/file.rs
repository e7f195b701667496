//! The files on disk: the instance lock, the snapshot (`<path>`), and the change
//! log (`<path>.log`). No HTTP, no argon2.
//!
//! A batch of changes is made durable by appending one line to the log and
//! fsyncing it: the cost does not grow with the state. A line is the CRC32C of the
//! record in 8 hex digits, a space, and the record `{"seq":N,"ops":[…]}`. When the
//! log outgrows the snapshot, the whole state is written as a new snapshot (temp
//! file → fsync → rename → fsync directory) and the log starts empty. At start the
//! snapshot is read and the log records after its `seq` are replayed. A bad last
//! record (a crash mid-append, never acknowledged) is cut off; a bad record with
//! good ones after it is corruption, and start-up stops naming its line. Lines
//! without a checksum, as earlier releases wrote them, are still read.
//!
//! A compaction that fails before its rename leaves the snapshot and log as they
//! were, so the batch is appended to the log instead and the next compaction is
//! tried when the log has grown by another interval, not at every write.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ops::Op;
use super::state::State;

/// Smallest log size that triggers a snapshot, so small states do not rewrite often.
const MIN_LOG_BYTES: u64 = 1 << 20;

/// A step of the write path, for fault injection in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Create the snapshot's temp file.
    CreateTemp,
    /// Write the temp file.
    WriteTemp,
    /// fsync the temp file.
    SyncTemp,
    /// Rename the temp file over the snapshot.
    Rename,
    /// fsync the directory after the rename.
    SyncDir,
    /// Open the directory, before the rename, to fsync it after.
    OpenDir,
    /// Append a record to the log.
    AppendLog,
    /// fsync the log.
    SyncLog,
}

/// Called before each step; an error makes that step fail (tests only).
pub type FaultHook = Arc<dyn Fn(Step) -> std::io::Result<()> + Send + Sync>;

/// Why the state could not be opened at start-up. The message names the file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds `<path>.lock`.
    #[error("state file {path} is in use: another wa-twostep holds the lock {lock}")]
    Locked {
        /// State file.
        path: PathBuf,
        /// Lock file.
        lock: PathBuf,
    },
    /// A file exists but cannot be used; it is left untouched.
    #[error("state file {path}: {reason}")]
    Unusable {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Serialize)]
struct RecordOut<'a> {
    seq: u64,
    ops: &'a [Op],
}

#[derive(Deserialize)]
struct RecordIn {
    seq: u64,
    ops: Vec<Op>,
}

/// How a compaction failed: before its rename (nothing on disk changed) or after
/// it (the new snapshot is in place but maybe not durable).
enum Compaction<E = std::io::Error> {
    /// Failed before the rename.
    NotRenamed(std::io::Error),
    /// Failed after the rename.
    Renamed(E),
}

/// One log line: CRC32C of the record (8 hex digits), a space, the record, `\n`.
fn encode_record(seq: u64, ops: &[Op]) -> std::io::Result<Vec<u8>> {
    let record = serde_json::to_vec(&RecordOut { seq, ops }).map_err(std::io::Error::other)?;
    let mut line = Vec::with_capacity(record.len() + 10);
    line.extend_from_slice(format!("{:08x} ", crc32c::crc32c(&record)).as_bytes());
    line.extend_from_slice(&record);
    line.push(b'\n');
    Ok(line)
}

/// Reads one log line (with its `\n`). Lines starting with `{` come from releases
/// that wrote no checksum.
fn parse_record(line: &[u8]) -> Result<RecordIn, String> {
    let Some(line) = line.strip_suffix(b"\n") else {
        return Err("the record is not complete".into());
    };
    let record = if line.first() == Some(&b'{') {
        line
    } else {
        let (crc, record) = match (line.get(..8), line.get(8), line.get(9..)) {
            (Some(crc), Some(b' '), Some(record)) => (crc, record),
            _ => return Err("not a valid record".into()),
        };
        let crc = std::str::from_utf8(crc)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("not a valid record checksum")?;
        if crc != crc32c::crc32c(record) {
            return Err("the record does not match its checksum".into());
        }
        record
    };
    serde_json::from_slice(record).map_err(|e| format!("not a valid record: {e}"))
}

/// (device, inode): tells whether a path still names the file we wrote.
type FileId = (u64, u64);

fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The open, locked state files.
pub struct StateFile {
    /// The snapshot.
    path: PathBuf,
    /// Its temp sibling, renamed over `path` on each snapshot.
    tmp: PathBuf,
    /// The change log.
    log_path: PathBuf,
    /// The directory to fsync after a rename or a file creation.
    dir: PathBuf,
    /// The log, open for appending; `None` until the next snapshot creates it.
    log: Option<File>,
    /// Bytes of valid records in the log.
    log_len: u64,
    /// Bytes of the last snapshot.
    snapshot_len: u64,
    /// Log length past which the next compaction is tried.
    compact_at: u64,
    /// Identity of the snapshot and log we wrote; if a path names another file
    /// (the directory was replaced), the next batch writes a fresh snapshot.
    ids: Option<(FileId, FileId)>,
    /// Test-only fault injection.
    faults: Option<FaultHook>,
    /// Held for the life of the process: the OS releases it on exit, even on SIGKILL.
    _lock: File,
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .field("log_len", &self.log_len)
            .finish_non_exhaustive()
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only when the file is created; an older file keeps its mode.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

impl StateFile {
    /// Takes the lock on `<path>.lock`, then reads the snapshot and replays the log.
    /// No files means `None` (seed state). A bad file is an error and is not touched.
    pub fn open(path: &Path) -> Result<(StateFile, Option<State>), OpenError> {
        let unusable = |p: &Path, reason: String| OpenError::Unusable {
            path: p.to_owned(),
            reason,
        };
        let lock_path = sibling(path, ".lock");
        let lock = open_private(&lock_path, false).map_err(|e| {
            unusable(
                path,
                format!("cannot open lock file {}: {e}", lock_path.display()),
            )
        })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(OpenError::Locked {
                    path: path.to_owned(),
                    lock: lock_path,
                })
            }
            Err(TryLockError::Error(e)) => {
                return Err(unusable(
                    path,
                    format!("cannot lock {}: {e}", lock_path.display()),
                ))
            }
        }
        let read = |p: &Path| match std::fs::read(p) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unusable(p, format!("cannot read: {e}"))),
        };
        let log_path = sibling(path, ".log");
        let snapshot = read(path)?;
        let log_bytes = read(&log_path)?;
        let log_exists = log_bytes.is_some();
        let log_bytes = log_bytes.unwrap_or_default();
        let snapshot_len = snapshot.as_ref().map_or(0, |b| b.len() as u64);
        let mut state = match snapshot {
            Some(bytes) => Some(State::from_bytes(&bytes).map_err(|r| unusable(path, r))?),
            None if log_bytes.is_empty() => None,
            None => {
                return Err(unusable(
                    &log_path,
                    format!("change log without its snapshot {}", path.display()),
                ))
            }
        };
        let mut valid_len = 0usize;
        if let Some(state) = state.as_mut() {
            for (n, line) in log_bytes.split_inclusive(|b| *b == b'\n').enumerate() {
                let last = valid_len + line.len() == log_bytes.len();
                let record = match parse_record(line) {
                    Ok(record) => record,
                    // A torn append: never acknowledged, so cutting it loses nothing.
                    Err(_) if last => break,
                    Err(reason) => {
                        return Err(unusable(
                            &log_path,
                            format!("line {}: {reason}, and records follow it", n + 1),
                        ))
                    }
                };
                if record.seq > state.seq {
                    if record.seq != state.seq + 1 {
                        return Err(unusable(
                            &log_path,
                            format!(
                                "line {}: record {} follows {}",
                                n + 1,
                                record.seq,
                                state.seq
                            ),
                        ));
                    }
                    for op in &record.ops {
                        state.apply(op);
                    }
                    state.seq = record.seq;
                }
                valid_len += line.len();
            }
        }
        let log = if state.is_some() && log_exists {
            let mut log = open_private(&log_path, false)
                .map_err(|e| unusable(&log_path, format!("cannot open: {e}")))?;
            if valid_len < log_bytes.len() {
                log.set_len(valid_len as u64)
                    .and_then(|()| log.sync_data())
                    .map_err(|e| {
                        unusable(&log_path, format!("cannot cut the torn last record: {e}"))
                    })?;
            }
            log.seek(SeekFrom::Start(valid_len as u64))
                .map_err(|e| unusable(&log_path, format!("cannot seek: {e}")))?;
            Some(log)
        } else {
            None
        };
        let ids = match (&log, file_id(path), file_id(&log_path)) {
            (Some(_), Some(s), Some(l)) => Some((s, l)),
            _ => None,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let file = StateFile {
            path: path.to_owned(),
            tmp: sibling(path, ".tmp"),
            log_path,
            dir,
            log,
            log_len: valid_len as u64,
            snapshot_len,
            compact_at: MIN_LOG_BYTES.max(snapshot_len),
            ids,
            faults: None,
            _lock: lock,
        };
        Ok((file, state))
    }

    /// Installs a fault hook (tests only).
    pub fn set_fault_hook(&mut self, hook: FaultHook) {
        self.faults = Some(hook);
    }

    fn check(&self, step: Step) -> std::io::Result<()> {
        match &self.faults {
            Some(hook) => hook(step),
            None => Ok(()),
        }
    }

    fn files_are_ours(&self) -> bool {
        matches!(self.ids, Some((s, l)) if file_id(&self.path) == Some(s) && file_id(&self.log_path) == Some(l))
    }

    /// Makes a batch durable: `next` is the state after `ops`, with `next.seq` the
    /// batch's sequence number. On error nothing of the batch is on disk, as far as
    /// the OS lets us know; `previous` gives the state to restore if a snapshot was
    /// renamed into place but could not be made durable.
    pub fn persist(
        &mut self,
        next: &State,
        ops: &[Op],
        previous: impl FnOnce() -> State,
    ) -> std::io::Result<()> {
        let log_usable = self.log.is_some() && self.files_are_ours();
        if log_usable && self.log_len <= self.compact_at {
            return self.append(next.seq, ops);
        }
        match self.snapshot(next, previous) {
            Err(Compaction::NotRenamed(e)) if log_usable => {
                // The snapshot and log on disk are untouched and still agree: the
                // batch goes to the log, and compaction waits one more interval.
                tracing::warn!(error = %e, "compaction failed; appending to the change log instead");
                self.compact_at = self.log_len + MIN_LOG_BYTES.max(self.snapshot_len);
                self.append(next.seq, ops)
            }
            Err(Compaction::NotRenamed(e) | Compaction::Renamed(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    }

    fn append(&mut self, seq: u64, ops: &[Op]) -> std::io::Result<()> {
        let line = encode_record(seq, ops)?;
        let Some(log) = self.log.as_mut() else {
            return Err(std::io::Error::other("no change log open"));
        };
        let faults = self.faults.clone();
        let check = |step| faults.as_ref().map_or(Ok(()), |hook| hook(step));
        let result = check(Step::AppendLog)
            .and_then(|()| log.write_all(&line))
            .and_then(|()| check(Step::SyncLog))
            .and_then(|()| log.sync_data());
        match result {
            Ok(()) => {
                self.log_len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Take back whatever part of the record reached the file, so a
                // restart cannot replay a change the client was told failed.
                let len = self.log_len;
                let undone = log
                    .set_len(len)
                    .and_then(|()| log.seek(SeekFrom::Start(len)).map(|_| ()))
                    .and_then(|()| log.sync_data());
                if undone.is_err() {
                    self.log = None; // the next batch writes a fresh snapshot and log
                }
                Err(e)
            }
        }
    }

    fn snapshot(
        &mut self,
        next: &State,
        previous: impl FnOnce() -> State,
    ) -> Result<(), Compaction> {
        let bytes = serde_json::to_vec(next)
            .map_err(|e| Compaction::NotRenamed(std::io::Error::other(e)))?;
        let dir = match self.write_snapshot(&bytes) {
            Ok(dir) => dir,
            Err(Compaction::Renamed((e, dir))) => {
                self.log = None;
                self.ids = None;
                // The new snapshot is in place but maybe not durable: put the previous
                // state back so "failed" really means "not changed". The directory fd
                // was opened before the rename, so the restore needs no new one for it.
                match serde_json::to_vec(&previous()) {
                    Ok(old) => {
                        if let Err(restore) = self.restore_snapshot(&old, &dir) {
                            tracing::error!(error = %restore, "could not restore the previous snapshot");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "could not encode the previous snapshot"),
                }
                return Err(Compaction::Renamed(e));
            }
            Err(Compaction::NotRenamed(e)) => return Err(Compaction::NotRenamed(e)),
        };
        self.snapshot_len = bytes.len() as u64;
        self.compact_at = MIN_LOG_BYTES.max(self.snapshot_len);
        // The batch is durable in the snapshot; a new, empty log follows it. If the log
        // cannot be started, the old one stays in use: replay skips its records up to
        // the snapshot's `seq`, so appending to it is still correct.
        match self.fresh_log(&dir) {
            Ok(log) => {
                self.log = Some(log);
                self.log_len = 0;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not start a new change log; keeping the old one");
                self.compact_at = self.log_len + self.compact_at;
            }
        }
        self.ids = match self.log {
            Some(_) => file_id(&self.path).zip(file_id(&self.log_path)),
            None => None,
        };
        Ok(())
    }

    /// temp → write → fsync → open dir → rename → fsync dir. Returns the directory,
    /// opened before the rename, so nothing after the rename needs a new descriptor.
    fn write_snapshot(&self, bytes: &[u8]) -> Result<File, Compaction<(std::io::Error, File)>> {
        let before_rename = || -> std::io::Result<File> {
            self.check(Step::CreateTemp)?;
            let mut file = open_private(&self.tmp, true)?;
            self.check(Step::WriteTemp)?;
            file.write_all(bytes)?;
            self.check(Step::SyncTemp)?;
            file.sync_all()?;
            drop(file);
            self.check(Step::OpenDir)?;
            let dir = File::open(&self.dir)?;
            self.check(Step::Rename)?;
            std::fs::rename(&self.tmp, &self.path)?;
            Ok(dir)
        };
        let dir = match before_rename() {
            Ok(dir) => dir,
            Err(e) => {
                let _ = std::fs::remove_file(&self.tmp);
                return Err(Compaction::NotRenamed(e));
            }
        };
        // The rename is durable only once the directory entry is.
        match self.check(Step::SyncDir).and_then(|()| dir.sync_all()) {
            Ok(()) => Ok(dir),
            Err(e) => Err(Compaction::Renamed((e, dir))),
        }
    }

    /// Puts `bytes` back as the snapshot after a failed directory fsync, reusing `dir`.
    fn restore_snapshot(&self, bytes: &[u8], dir: &File) -> std::io::Result<()> {
        let mut file = open_private(&self.tmp, true)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)?;
        dir.sync_all()
    }

    fn fresh_log(&self, dir: &File) -> std::io::Result<File> {
        let log = open_private(&self.log_path, true)?;
        log.sync_all()?;
        dir.sync_all()?;
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::store::state::TwoStepRecord;

    fn enable(seq: u64) -> (Op, State) {
        let op = Op::SetTwoStep {
            two_step: TwoStepRecord {
                enabled: true,
                pin_hash: Some(Secret::new("h")),
                updated_at_ms: Some(seq as i64),
            },
        };
        let mut s = State::seed(Secret::new("h"), true, true);
        s.apply(&op);
        s.seq = seq;
        (op, s)
    }

    /// Opens `path` and writes a first batch (a snapshot) that enables two-step.
    fn first_snapshot(path: &Path) -> (StateFile, State) {
        let (mut file, _) = StateFile::open(path).unwrap();
        let seed = State::seed(Secret::new("h"), true, true);
        let (op1, s1) = enable(1);
        file.persist(&s1, &[op1], || seed.clone()).unwrap();
        (file, s1)
    }

    #[test]
    fn a_second_open_of_the_same_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let (_first, none) = StateFile::open(&path).unwrap();
        assert!(none.is_none());
        let err = StateFile::open(&path).unwrap_err();
        assert!(matches!(err, OpenError::Locked { .. }), "{err}");
    }

    #[test]
    fn snapshots_and_log_records_read_back_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let (mut file, _) = StateFile::open(&path).unwrap();
        let seed = State::seed(Secret::new("h"), true, true);
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
        let (_f, back) = StateFile::open(&path).unwrap();
        assert_eq!(back.unwrap(), s2);
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
        let (_f, back) = StateFile::open(&path).unwrap();
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
        let err = StateFile::open(&path).unwrap_err();
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
            let (_f, back) = StateFile::open(&path).unwrap();
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
        s2.two_step.updated_at_ms = Some(2);
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
        let err = StateFile::open(&path).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("checksum"), "{err}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), corrupt);
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
        let (mut file, back) = StateFile::open(&path).unwrap();
        let back = back.unwrap();
        assert_eq!(back.seq, 2);
        let mut s3 = back.clone();
        s3.seq = 3;
        file.persist(&s3, &[], || back.clone()).unwrap();
        drop(file);
        assert_eq!(StateFile::open(&path).unwrap().1.unwrap().seq, 3);
    }

    #[test]
    fn the_directory_is_opened_before_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let (mut file, _) = StateFile::open(&path).unwrap();
        let steps = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = steps.clone();
        file.set_fault_hook(Arc::new(move |step| {
            seen.lock().unwrap().push(step);
            Ok(())
        }));
        let seed = State::seed(Secret::new("h"), true, true);
        let (op1, s1) = enable(1);
        file.persist(&s1, &[op1], || seed.clone()).unwrap();
        let steps = steps.lock().unwrap().clone();
        let at = |s| steps.iter().position(|x| *x == s).unwrap();
        assert!(at(Step::OpenDir) < at(Step::Rename), "{steps:?}");
        assert!(at(Step::Rename) < at(Step::SyncDir), "{steps:?}");
    }
}
