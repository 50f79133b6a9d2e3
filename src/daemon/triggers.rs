//! What wakes the controller. Triggers only say *that* something may have changed; the
//! controller re-reads specs and re-observes the runtime to find out what (level-triggered).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::runtime::{EngineEventKind, Runtime};
use crate::spec::TenantName;

/// A reason to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Something changed in the tenants directory (or the watch lost track: read it all).
    Files,
    /// The engine reported a change to one tenant's objects.
    Tenant(TenantName),
    /// The engine reported a change to a container without saying whose (an attachment to a
    /// network that is no tenant's): the tenant of that container, if any, is looked at again.
    Container(String),
    /// Everything should be looked at again (the event stream was (re)subscribed, so events
    /// may have been missed).
    Everything,
    /// The engine event stream broke; the message says why.
    EngineLost(String),
}

/// The directory watch; it stops when dropped.
pub type DirWatcher = notify::RecommendedWatcher;

/// Watches `dir` (not recursively). Every event that can mean a change, including the watcher's
/// own errors and overflows, becomes `Trigger::Files`: the directory is always read whole
/// afterwards. The watcher stops when the returned value is dropped.
pub fn watch_dir(dir: &Path, tx: mpsc::UnboundedSender<Trigger>) -> notify::Result<DirWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match &event {
            Ok(e) if e.need_rescan() => {
                tracing::warn!("the directory watch lost events (kernel queue overflow); reading every spec again");
            }
            Ok(e) if !may_change(&e.kind) => return,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the directory watch reported an error; reading every spec again"),
        }
        let _ = tx.send(Trigger::Files);
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Whether a watch event can mean that the directory's specs changed. Opening and reading do
/// not: the inotify backend reports every open, and each pass opens the directory and every spec
/// in it, so counting those would make each pass trigger the next one for ever.
fn may_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Other => true,
    }
}

/// Follows the engine's event stream for as long as the returned task runs, subscribing again
/// (with a growing pause, up to 30 s) whenever it breaks.
pub fn follow_engine(runtime: Arc<dyn Runtime>, tx: mpsc::UnboundedSender<Trigger>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(500);
        loop {
            match runtime.events().await {
                Ok(mut stream) => {
                    // Anything may have happened while we were not listening.
                    if tx.send(Trigger::Everything).is_err() {
                        return;
                    }
                    pause = Duration::from_millis(500);
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(ev) => {
                                let trigger = match (ev.tenant, matters(&ev.kind)) {
                                    (Some(t), true) => Trigger::Tenant(t),
                                    (None, true) => Trigger::Container(ev.id),
                                    (_, false) => continue,
                                };
                                if tx.send(trigger).is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                let _ = tx.send(Trigger::EngineLost(e.to_string()));
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    if tx.send(Trigger::EngineLost(e.to_string())).is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    })
}

/// Events that can mean drift or a dead runtime.
fn matters(kind: &EngineEventKind) -> bool {
    match kind {
        EngineEventKind::Die
        | EngineEventKind::Oom
        | EngineEventKind::HealthStatus
        | EngineEventKind::Destroy
        | EngineEventKind::Stop
        | EngineEventKind::Update
        | EngineEventKind::NetworkDisconnect
        | EngineEventKind::NetworkConnect => true,
        EngineEventKind::Start | EngineEventKind::Other(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind, RenameMode};

    use super::*;

    #[test]
    fn reading_the_directory_is_not_a_change() {
        for read in
            [AccessKind::Open(AccessMode::Any), AccessKind::Read, AccessKind::Close(AccessMode::Read), AccessKind::Any]
        {
            assert!(!may_change(&EventKind::Access(read)), "{read:?}");
        }
    }

    #[test]
    fn writes_creations_renames_and_removals_are() {
        for kind in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Remove(RemoveKind::File),
            EventKind::Any,
            EventKind::Other,
        ] {
            assert!(may_change(&kind), "{kind:?}");
        }
    }
}
