//! One writer per state directory: a daemon or an apply holds an exclusive lock on
//! `<state_dir>/tenantd.lock` for as long as it may change anything.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::ReconcileError;

pub const LOCK_FILE: &str = "tenantd.lock";

/// Held while alive; the lock is released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock without waiting.
    pub fn acquire(state_dir: &Path) -> Result<Self, ReconcileError> {
        let path = state_dir.join(LOCK_FILE);
        std::fs::create_dir_all(state_dir).map_err(|source| ReconcileError::LockIo { path: path.clone(), source })?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| ReconcileError::LockIo { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(ReconcileError::Locked { path }),
            Err(std::fs::TryLockError::Error(source)) => Err(ReconcileError::LockIo { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        assert!(matches!(StateLock::acquire(dir.path()), Err(ReconcileError::Locked { .. })));
        drop(first);
        StateLock::acquire(dir.path()).unwrap();
    }
}
