//! The state file on disk: the instance lock, loading, and the atomic write
//! (temp file → write → fsync → rename → fsync directory). No HTTP, no argon2.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::state::State;

/// Why the state file could not be opened at start-up. The message names the file.
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
    /// The file exists but cannot be used; it is left untouched.
    #[error("state file {path}: {reason}")]
    Unusable {
        /// State file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// An open, locked state file.
#[derive(Debug)]
pub struct StateFile {
    /// The state file.
    path: PathBuf,
    /// Its temp sibling, renamed over `path` on each write.
    tmp: PathBuf,
    /// The directory to fsync after a rename.
    dir: PathBuf,
    /// Held for the life of the process: the OS releases the lock on exit, even on SIGKILL.
    _lock: File,
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
    /// Takes the lock on `<path>.lock`, then reads the state if the file exists.
    /// A missing file is `None` (seed state). A bad file is an error and is never touched.
    pub fn open(path: &Path) -> Result<(StateFile, Option<State>), OpenError> {
        let unusable = |reason: String| OpenError::Unusable {
            path: path.to_owned(),
            reason,
        };
        let lock_path = sibling(path, ".lock");
        let lock = open_private(&lock_path, false).map_err(|e| {
            unusable(format!(
                "cannot open lock file {}: {e}",
                lock_path.display()
            ))
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
                return Err(unusable(format!(
                    "cannot lock {}: {e}",
                    lock_path.display()
                )))
            }
        }
        let state = match std::fs::read(path) {
            Ok(bytes) => Some(State::from_bytes(&bytes).map_err(unusable)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(unusable(format!("cannot read: {e}"))),
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Ok((
            StateFile {
                path: path.to_owned(),
                tmp: sibling(path, ".tmp"),
                dir,
                _lock: lock,
            },
            state,
        ))
    }

    /// Replaces the file's content with `bytes` atomically and durably: when this
    /// returns `Ok`, a crash at any later moment still leaves `bytes` on disk; when it
    /// fails at any step, the old file is intact.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let result = self.write_inner(bytes);
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }

    fn write_inner(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut file = open_private(&self.tmp, true)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)?;
        // The rename is durable only once the directory entry is.
        File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn writes_are_private_and_readable_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let (file, _) = StateFile::open(&path).unwrap();
        let state = State::seed(crate::secret::Secret::new("h"), true, true);
        file.write(&serde_json::to_vec(&state).unwrap()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(file);
        let (_f, back) = StateFile::open(&path).unwrap();
        assert_eq!(back.unwrap(), state);
    }
}
