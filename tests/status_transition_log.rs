//! What the status writer logs when a tenant's phase changes. A file of its own: tracing caches
//! whether a callsite is wanted across all threads of a process, so an event under a subscriber
//! scoped to one test thread can be lost while other test threads log the same callsite.

use std::sync::{Arc, Mutex};

use tenantd::status::{Phase, StatusStore, TenantStatus};

fn status(phase: Phase, error: Option<&str>) -> TenantStatus {
    let json = serde_json::json!({
        "tenant": "acme", "phase": phase, "source": "tenants.d/acme.yaml", "conditions": [],
        "health": "down", "restartCount": 0, "lastError": error,
    });
    serde_json::from_value(json).unwrap()
}

/// Log lines written while `f` runs, without colour.
fn logged(f: impl FnOnce()) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || WriteTo(sink.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

struct WriteTo(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for WriteTo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_writer_logs_each_change_of_phase_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::new(dir.path().join("status"));
    let invalid = status(Phase::Invalid, Some("tenants.d/acme.yaml:7:3: /spec/resources/memory: not a size"));
    let first = logged(|| assert!(store.write(&status(Phase::Running, None)).unwrap()));
    assert!(first.contains(" INFO ") && first.contains("tenant is running") && first.contains("from=none"), "{first}");

    let text = logged(|| assert!(store.write(&invalid).unwrap()));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    for part in [" WARN ", "tenant spec is invalid", "tenant=acme", "phase=Invalid", "from=Running", "acme.yaml:7:3"] {
        assert!(lines[0].contains(part), "{part:?} in {text}");
    }
    // Written again with another message, the phase is the same: no transition.
    let mut again = invalid.clone();
    again.last_error = Some("tenants.d/acme.yaml:8:1: another".into());
    assert_eq!(logged(|| assert!(store.write(&again).unwrap())), "");
    assert_eq!(logged(|| assert!(!store.write(&again).unwrap())), "");
}
