//! `<dir>/state.json`, the ingress's report to tenantd, and tenantd's side of the directory:
//! [`write_backend`] to switch the backend, [`read_state`] to see the switch taken and the old
//! backend drained.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::backend::{Shared, Snapshot, BACKEND_FILE};

const STATE_FILE: &str = "state.json";
const STATE_TEMP: &str = ".state.json.tmp";
const BACKEND_TEMP: &str = ".backend.tmp";
/// The shortest time between two writes of state.json, a backend switch aside.
const MIN_INTERVAL: Duration = Duration::from_millis(50);
/// How long a failed write of state.json waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// The most [`read_state`] reads of state.json.
const MAX_STATE_LEN: u64 = 64 * 1024;

/// What the ingress reports in state.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressState {
    /// The backend new requests go to (`IP:PORT`); `None` when there is none.
    pub backend: Option<String>,
    /// Requests in flight per backend: every backend with some, and the current one (even at 0).
    #[serde(default)]
    pub inflight: BTreeMap<String, u64>,
}

/// The file's content: the state and the ingress's process id.
#[derive(Serialize)]
struct StateFile<'a> {
    #[serde(flatten)]
    state: &'a IngressState,
    pid: u32,
}

impl From<&Snapshot> for IngressState {
    fn from(snap: &Snapshot) -> Self {
        IngressState {
            backend: snap.backend.map(|a| a.to_string()),
            inflight: snap.inflight.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
        }
    }
}

/// Writes state.json whenever the shared state changes: at once after a backend switch,
/// otherwise at most every [`MIN_INTERVAL`]. Runs until aborted.
pub(super) async fn run(dir: Arc<OwnedFd>, shared: Arc<Shared>) {
    let mut last: Option<Snapshot> = None;
    let mut last_write = Instant::now().checked_sub(MIN_INTERVAL).unwrap_or_else(Instant::now);
    let mut failing = false;
    loop {
        let snap = shared.snapshot();
        if last.as_ref() == Some(&snap) {
            shared.changed.notified().await;
            continue;
        }
        let switched = last.as_ref().is_none_or(|l| l.backend != snap.backend);
        let due = last_write + MIN_INTERVAL;
        if !switched && Instant::now() < due {
            // Changes until then are taken along; a switch ends the wait.
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = shared.changed.notified() => {}
            }
            continue;
        }
        match write_state(&dir, &snap) {
            Ok(()) if failing => {
                tracing::info!("state.json is written again");
                failing = false;
            }
            Ok(()) => {}
            Err(error) if !failing => {
                tracing::warn!(%error, "cannot write state.json");
                failing = true;
            }
            Err(_) => {}
        }
        last_write = Instant::now();
        if failing {
            // Tried again, with whatever the state is by then.
            last = None;
            tokio::time::sleep(RETRY).await;
        } else {
            last = Some(snap);
        }
    }
}

/// Writes state.json whole: into `.state.json.tmp`, renamed over it.
pub(super) fn write_state(dir: &OwnedFd, snap: &Snapshot) -> io::Result<()> {
    let state = IngressState::from(snap);
    let mut json = serde_json::to_vec(&StateFile { state: &state, pid: std::process::id() })?;
    json.push(b'\n');
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, STATE_TEMP, flags, Mode::from_raw_mode(0o644))?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644))?;
    std::fs::File::from(fd).write_all(&json)?;
    rustix::fs::renameat(dir, STATE_TEMP, dir, STATE_FILE)?;
    Ok(())
}

/// The ingress state reported in `<dir>/state.json`; `None` when there is no such file (the
/// ingress has not started yet). The file is opened without following a link and must be a
/// regular file of at most 64 KiB holding the JSON the ingress writes.
pub fn read_state(dir: &Path) -> io::Result<Option<IngressState>> {
    let path = dir.join(STATE_FILE);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(&path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(context(&path, e.into())),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| context(&path, e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(context(&path, io::Error::new(io::ErrorKind::InvalidData, "not a regular file")));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd).take(MAX_STATE_LEN + 1).read_to_end(&mut bytes).map_err(|e| context(&path, e))?;
    if bytes.len() as u64 > MAX_STATE_LEN {
        return Err(context(&path, io::Error::new(io::ErrorKind::InvalidData, "larger than 64 KiB")));
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| context(&path, io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Makes `addr` the backend of the ingress serving `dir`: writes `<dir>/backend` (mode 0644)
/// whole, through a temporary file created anew (never through a link), synced, then renamed
/// over it. The ingress takes it within about 50 ms; [`read_state`] shows when.
pub fn write_backend(dir: &Path, addr: SocketAddr) -> io::Result<()> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dirfd = rustix::fs::open(dir, dir_flags, Mode::empty()).map_err(|e| context(dir, e.into()))?;
    let temp = dir.join(BACKEND_TEMP);
    // A temporary file left by an interrupted write is ours to replace.
    match rustix::fs::unlinkat(&dirfd, BACKEND_TEMP, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(context(&temp, e.into())),
    }
    let written = (|| -> io::Result<()> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dirfd, BACKEND_TEMP, flags, Mode::from_raw_mode(0o644))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644))?;
        let mut file = std::fs::File::from(fd);
        file.write_all(format!("{addr}\n").as_bytes())?;
        file.sync_all()?;
        rustix::fs::renameat(&dirfd, BACKEND_TEMP, &dirfd, BACKEND_FILE)?;
        rustix::fs::fsync(&dirfd)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&dirfd, BACKEND_TEMP, AtFlags::empty());
    }
    written.map_err(|e| context(&dir.join(BACKEND_FILE), e))
}

fn context(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
