//! The current backend, read from `<dir>/backend`, and the in-flight count per backend.
//!
//! The file is polled: a `stat` (without following a link) every [`POLL`], and a re-read only
//! when its (device, inode, mtime, ctime, size) changed. tenantd replaces it by rename, so a
//! change shows as a new inode. A file that does not hold one `IP:PORT` line is logged once (per
//! version of the file) and leaves the previous backend in place; no file means no backend.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use tokio::sync::Notify;

/// The name of the backend file in the ingress directory.
pub(super) const BACKEND_FILE: &str = "backend";
/// How often the backend file is checked.
pub(super) const POLL: Duration = Duration::from_millis(50);
/// The most the backend file is read of; a longer file is malformed.
const MAX_LEN: u64 = 4096;

/// What the proxy and the state report share: the backend requests go to, and how many
/// requests each backend has in flight.
#[derive(Debug, Default)]
pub(super) struct Shared {
    inner: Mutex<Inner>,
    /// Woken on every change of the backend or a count (a stored permit when nobody waits).
    pub(super) changed: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    backend: Option<SocketAddr>,
    /// Only counts above 0.
    inflight: BTreeMap<SocketAddr, u64>,
}

/// What the state report shows: the backend, and the counts of the backends with requests in
/// flight plus the current backend's (even at 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    pub(super) backend: Option<SocketAddr>,
    pub(super) inflight: BTreeMap<SocketAddr, u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock is never held across a panic that matters: counts are plain integers.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The backend a request arriving now goes to.
    pub(super) fn current(&self) -> Option<SocketAddr> {
        self.lock().backend
    }

    /// Makes `to` the backend; logs and wakes the report when that is a change.
    pub(super) fn switch(&self, to: Option<SocketAddr>) {
        let from = std::mem::replace(&mut self.lock().backend, to);
        if from != to {
            tracing::info!(from = %show(from), to = %show(to), "backend switched");
            self.changed.notify_one();
        }
    }

    /// Counts one request in flight to `addr` until the returned value is dropped.
    pub(super) fn begin(self: &Arc<Self>, addr: SocketAddr) -> Inflight {
        *self.lock().inflight.entry(addr).or_insert(0) += 1;
        self.changed.notify_one();
        Inflight { shared: Arc::clone(self), addr }
    }

    /// The sum of every backend's count.
    pub(super) fn total_inflight(&self) -> u64 {
        self.lock().inflight.values().sum()
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        let mut inflight = inner.inflight.clone();
        if let Some(backend) = inner.backend {
            inflight.entry(backend).or_insert(0);
        }
        Snapshot { backend: inner.backend, inflight }
    }
}

/// One request counted in flight; dropping it ends the count.
#[derive(Debug)]
pub(super) struct Inflight {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Drop for Inflight {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if let Some(n) = inner.inflight.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                inner.inflight.remove(&self.addr);
            }
        }
        drop(inner);
        self.shared.changed.notify_one();
    }
}

/// `IP:PORT`, or `none`.
pub(super) fn show(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "none".to_string(), |a| a.to_string())
}

/// Checks the backend file every [`POLL`], forever.
pub(super) async fn watch(mut watcher: Watcher, dir: Arc<OwnedFd>, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        watcher.check(&dir, &shared);
    }
}

/// What a `stat` of the backend file showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Absent,
    File { dev: u64, ino: u64, mtime: (i64, u64), ctime: (i64, u64), size: i64 },
    StatFailed(Errno),
}

/// The backend file as last seen (`None` before the first check).
#[derive(Debug, Default)]
pub(super) struct Watcher {
    last: Option<Seen>,
}

impl Watcher {
    /// Looks at the backend file once and applies what changed since the last look.
    // The `stat` field types differ between targets; the casts are no-ops on some.
    #[allow(clippy::unnecessary_cast)]
    pub(super) fn check(&mut self, dir: &OwnedFd, shared: &Shared) {
        let seen = match rustix::fs::statat(dir, BACKEND_FILE, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Seen::File {
                dev: st.st_dev as u64,
                ino: st.st_ino as u64,
                mtime: (st.st_mtime as i64, st.st_mtime_nsec as u64),
                ctime: (st.st_ctime as i64, st.st_ctime_nsec as u64),
                size: st.st_size as i64,
            },
            Err(Errno::NOENT) => Seen::Absent,
            Err(e) => Seen::StatFailed(e),
        };
        if self.last == Some(seen) {
            return;
        }
        self.last = Some(seen);
        match seen {
            Seen::Absent => shared.switch(None),
            Seen::StatFailed(e) => {
                tracing::warn!(error = %e, "cannot stat the backend file; keeping the backend");
            }
            Seen::File { .. } => match read(dir) {
                Ok(Some(addr)) => shared.switch(Some(addr)),
                // Gone between the stat and the open: the next check sees it absent.
                Ok(None) => {}
                Err(reason) => tracing::warn!(
                    reason,
                    backend = %show(shared.current()),
                    "ignoring the backend file: it does not hold one IP:PORT line; keeping the backend"
                ),
            },
        }
    }
}

/// The address in the backend file; `None` when there is no file; `Err` with why when the file
/// is not one `IP:PORT` line.
fn read(dir: &OwnedFd) -> Result<Option<SocketAddr>, &'static str> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, BACKEND_FILE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => return Err("it is a symbolic link"),
        Err(_) => return Err("it cannot be opened"),
    };
    match rustix::fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        _ => return Err("it is not a regular file"),
    }
    let mut bytes = Vec::new();
    if std::fs::File::from(fd).take(MAX_LEN + 1).read_to_end(&mut bytes).is_err() {
        return Err("it cannot be read");
    }
    if bytes.len() as u64 > MAX_LEN {
        return Err("it is longer than 4 KiB");
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "it is not UTF-8")?;
    text.trim().parse().map(Some).map_err(|_| "it is not IP:PORT")
}
