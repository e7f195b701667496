//! Disk write failures for tests: the steps of the state file's write path, and
//! the hook that can make any of them fail. (Not the control plane's injected
//! HTTP faults: those are the edge's.)

use std::sync::Arc;

/// A step of the write path: where a test can make a state write fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    /// Create the snapshot's temp file.
    CreateTemp,
    /// Write the temp file.
    WriteTemp,
    /// fsync the temp file.
    SyncTemp,
    /// Open the directory, before the rename, to fsync it after.
    OpenDir,
    /// Rename the temp file over the snapshot.
    Rename,
    /// fsync the directory after the rename.
    SyncDir,
    /// Append a record to the log.
    AppendLog,
    /// fsync the log.
    SyncLog,
}

/// Called before each write step; an error makes that step fail (tests only).
/// Disk write failures, not to be confused with the control plane's HTTP faults.
pub type FailHook = Arc<dyn Fn(WriteStep) -> std::io::Result<()> + Send + Sync>;
