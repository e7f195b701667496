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
//! without a checksum, as earlier releases wrote them, are still read. Files of an
//! older schema are upgraded as they are read (`migrate`), and the first batch
//! after such a start writes a whole snapshot, so the files on disk are of the
//! current schema from the first change on.
//!
//! A compaction that fails before its rename leaves the snapshot and log as they
//! were, so the batch is appended to the log instead and the next compaction is
//! tried when the log has grown by another interval, not at every write.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fail::{FailHook, WriteStep};
use super::migrate::{self, Upgrade};
use super::ops::Op;
use super::state::{State, SCHEMA};

/// Smallest log size that triggers a snapshot, so small states do not rewrite often.
const MIN_LOG_BYTES: u64 = 1 << 20;

/// Largest log-line buffer kept for the next append (bytes).
const MAX_KEPT_LINE: usize = 1 << 20;

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

/// A log record as read: its ops are upgraded one by one (`migrate::op`).
#[derive(Deserialize)]
struct RecordIn {
    seq: u64,
    ops: Vec<serde_json::Value>,
}

/// How a compaction failed: before its rename (nothing on disk changed) or after
/// it (the new snapshot is in place but maybe not durable).
enum Compaction<E = std::io::Error> {
    /// Failed before the rename.
    NotRenamed(std::io::Error),
    /// Failed after the rename.
    Renamed(E),
}

/// Writes one log line into `line` (cleared first, its capacity reused): CRC32C of
/// the record (8 hex digits), a space, the record, `\n`. The record is serialized in
/// place after room left for the checksum, which is filled in last.
fn encode_record(line: &mut Vec<u8>, seq: u64, ops: &[Op]) -> std::io::Result<()> {
    line.clear();
    line.extend_from_slice(b"00000000 ");
    serde_json::to_writer(&mut *line, &RecordOut { seq, ops }).map_err(std::io::Error::other)?;
    let crc = crc32c::crc32c(&line[9..]);
    for (i, digit) in line[..8].iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[(crc >> (28 - 4 * i)) as usize & 0xf];
    }
    line.push(b'\n');
    Ok(())
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
    /// The files on disk are of an older schema: the next batch writes a
    /// snapshot instead of appending to the log.
    older_schema: bool,
    /// Test-only write failures.
    fail_hook: Option<FailHook>,
    /// The log line being appended, kept to reuse its allocation.
    line: Vec<u8>,
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
    /// Takes the lock on `<path>.lock`, then reads the snapshot and replays the log,
    /// upgrading an older schema with `upgrade`. No files means `None` (seed
    /// state). A bad file is an error and is not touched.
    pub fn open(path: &Path, upgrade: &Upgrade) -> Result<(StateFile, Option<State>), OpenError> {
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
        let older_schema = snapshot
            .as_deref()
            .and_then(State::schema_of)
            .is_some_and(|v| v < u64::from(SCHEMA));
        let mut state = match snapshot {
            Some(bytes) => Some(State::from_bytes(&bytes, upgrade).map_err(|r| unusable(path, r))?),
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
                let record = match parse_record(line).and_then(|r| {
                    let ops = r.ops.into_iter().map(|op| migrate::op(op, upgrade));
                    let ops = ops
                        .collect::<Result<Vec<Op>, String>>()
                        .map_err(|e| format!("not a valid record: {e}"))?;
                    Ok((r.seq, ops))
                }) {
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
                let (seq, ops) = record;
                if seq > state.seq {
                    if seq != state.seq + 1 {
                        return Err(unusable(
                            &log_path,
                            format!("line {}: record {} follows {}", n + 1, seq, state.seq),
                        ));
                    }
                    for op in &ops {
                        state.apply(op);
                    }
                    state.seq = seq;
                }
                valid_len += line.len();
            }
        }
        if state.is_some() {
            // The snapshot holds hashes and token digests: 0600 like every file of
            // ours, even one copied in or restored with a looser mode. Only once it
            // has been read back whole (a bad file is not touched), and a failure
            // only warns: it does not make the state unreadable.
            if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!(path = %path.display(), error = %e, "could not make the state file private (mode 0600)");
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
            older_schema,
            fail_hook: None,
            line: Vec::new(),
            _lock: lock,
        };
        if older_schema {
            tracing::info!(
                path = %path.display(),
                schema = SCHEMA,
                "state file of an older schema upgraded in memory; the next change writes it in the current schema"
            );
        }
        Ok((file, state))
    }

    /// Installs a write-failure hook (tests only).
    pub fn set_fail_hook(&mut self, hook: FailHook) {
        self.fail_hook = Some(hook);
    }

    fn check(&self, step: WriteStep) -> std::io::Result<()> {
        match &self.fail_hook {
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
        if log_usable && self.log_len <= self.compact_at && !self.older_schema {
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
        // The line's buffer is reused, unless one big batch grew it past this.
        let mut line = std::mem::take(&mut self.line);
        let result = encode_record(&mut line, seq, ops).and_then(|()| self.append_line(&line));
        if line.capacity() <= MAX_KEPT_LINE {
            self.line = line;
        }
        result
    }

    fn append_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let Some(log) = self.log.as_mut() else {
            return Err(std::io::Error::other("no change log open"));
        };
        let fail_hook = self.fail_hook.clone();
        let check = |step| fail_hook.as_ref().map_or(Ok(()), |hook| hook(step));
        let result = check(WriteStep::AppendLog)
            .and_then(|()| log.write_all(line))
            .and_then(|()| check(WriteStep::SyncLog))
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
        self.older_schema = false;
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
                self.compact_at += self.log_len;
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
            self.check(WriteStep::CreateTemp)?;
            let mut file = open_private(&self.tmp, true)?;
            self.check(WriteStep::WriteTemp)?;
            file.write_all(bytes)?;
            self.check(WriteStep::SyncTemp)?;
            file.sync_all()?;
            drop(file);
            self.check(WriteStep::OpenDir)?;
            let dir = File::open(&self.dir)?;
            self.check(WriteStep::Rename)?;
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
        match self.check(WriteStep::SyncDir).and_then(|()| dir.sync_all()) {
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
mod tests;
