//! `<dir>/state.json`, the ingress's report to tenantd. tenantd's side of the directory (writing
//! `backend`, reading this report) is `reconcile::ingress`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::backend::{Shared, Snapshot};

const STATE_FILE: &str = "state.json";
const STATE_TEMP: &str = ".state.json.tmp";
/// The shortest time between two writes of state.json, a backend switch aside.
const MIN_INTERVAL: Duration = Duration::from_millis(50);
/// How long a failed write of state.json waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

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
