//! Whether a tenantd process (the daemon, or an `apply`) holds the state directory's lock
//! (`<state_dir>/tenantd.lock`) right now. When none does, nothing keeps the status files up to
//! date: each is only as fresh as its age.
//!
//! The test asks for a shared lock without waiting and lets go of it at once: it fails while
//! a holder has the exclusive one, and holds the file for no longer than that instant
//! otherwise. The file is opened for reading only, never created, never through a link, and
//! without blocking (should it be a FIFO).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::reconcile::LOCK_FILE;

/// Who holds the state directory's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// A tenantd process holds it: the status files are kept up to date.
    Held,
    /// No process holds it (or the lock file does not exist).
    Free { lock: PathBuf },
    /// It could not be told, and why.
    Unknown { lock: PathBuf, why: String },
}

/// Tests the lock of `state_dir`.
pub fn state_lock(state_dir: &Path) -> Liveness {
    let lock = state_dir.join(LOCK_FILE);
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(&lock);
    let file: File = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Liveness::Free { lock },
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Liveness::Unknown { lock, why: "it is a symbolic link".into() }
        }
        Err(e) => return Liveness::Unknown { lock, why: e.to_string() },
    };
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Liveness::Unknown { lock, why: "it is not a regular file".into() },
        Err(e) => return Liveness::Unknown { lock, why: e.to_string() },
    }
    match file.try_lock_shared() {
        // Dropping the file right after releases the lock.
        Ok(()) => Liveness::Free { lock },
        Err(TryLockError::WouldBlock) => Liveness::Held,
        Err(TryLockError::Error(e)) => Liveness::Unknown { lock, why: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::StateLock;

    #[test]
    fn the_lock_is_held_while_a_holder_lives_and_the_test_never_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        assert_eq!(state_lock(dir.path()), Liveness::Free { lock: lock.clone() }, "no lock file yet");
        assert!(!lock.exists(), "the test creates nothing");
        let holder = StateLock::acquire(dir.path()).unwrap();
        assert_eq!(state_lock(dir.path()), Liveness::Held);
        drop(holder);
        assert_eq!(state_lock(dir.path()), Liveness::Free { lock: lock.clone() });
        // Having looked, it holds nothing: a daemon can start.
        let _daemon = StateLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_link_or_a_fifo_where_the_lock_belongs_is_not_followed_or_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        std::os::unix::fs::symlink("/etc/hostname", &lock).unwrap();
        assert!(matches!(state_lock(dir.path()), Liveness::Unknown { why, .. } if why.contains("symbolic link")));
        std::fs::remove_file(&lock).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &lock,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(state_lock(dir.path()), Liveness::Unknown { why, .. } if why.contains("not a regular file")));
    }
}
