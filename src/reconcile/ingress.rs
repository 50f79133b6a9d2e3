//! tenantd's side of a tenant's ingress: the `backend` file that says where the ingress
//! forwards (`IP:port`), and the ingress's `state.json` report that says which backend it has
//! taken and how many requests each backend still has in flight. The ingress's directory is
//! writable by the ingress, so everything here goes through [`HostDir`]: no link is followed,
//! nothing larger than a few KiB is read.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::hostdir::{HostDir, HostDirError, NewFile, Owners};
use crate::render::ingress::INGRESS_UID;

const ROUTE_FILE: &str = "backend";
const ROUTE_TEMP: &str = ".backend.tenantd-tmp";
const REPORT_FILE: &str = "state.json";
/// The name the ingress writes its report under before renaming it.
const REPORT_TEMP: &str = ".state.json.tmp";
/// How long a running ingress may take to pick a new backend up (it looks every 50 ms).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(25);

use crate::ingress::IngressState;

/// The tenant's ingress directory, made when missing: owned by the ingress's user, which must
/// write its report there, and by tenantd's own group, mode 0770; its parent stays root's.
///
/// The group is how tenantd itself gets in. Under its systemd unit tenantd holds no
/// CAP_DAC_OVERRIDE, so root is refused a directory of another user that its group may not
/// enter, like any user; and it holds no CAP_FOWNER, so the mode is set while the directory is
/// still its own, before the chown.
fn open(dir: &Path, create: bool) -> Result<Option<HostDir>, HostDirError> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
        return Ok(None);
    };
    let Some(root) = HostDir::open(parent, create.then_some(0o755), &Owners::trusted())? else { return Ok(None) };
    let owners = Owners::trusted().and(Some(INGRESS_UID));
    let Some(sub) = root.subdir(name, create.then_some(0o770), &owners)? else { return Ok(None) };
    if create {
        sub.set_mode(DIR_MODE)?;
        sub.chown((INGRESS_UID, rustix::process::getegid().as_raw()))?;
    }
    Ok(Some(sub))
}

/// The ingress directory's mode: the ingress (owner) and tenantd (group), nobody else.
const DIR_MODE: u32 = 0o770;

/// Makes the tenant's ingress directory ready for its ingress container's bind mount.
pub fn prepare(dir: &Path) -> Result<(), HostDirError> {
    open(dir, true).map(|_| ())
}

/// Removes a deleted tenant's ingress directory: the files tenantd and the ingress write there,
/// then the directory once empty (anything else found there stays, and is reported).
pub fn remove(dir: &Path) -> Result<(), HostDirError> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else { return Ok(()) };
    let Some(root) = HostDir::open(parent, None, &Owners::trusted())? else { return Ok(()) };
    if let Some(d) = root.subdir(name, None, &Owners::trusted().and(Some(INGRESS_UID)))? {
        for file in [ROUTE_FILE, ROUTE_TEMP, REPORT_FILE, REPORT_TEMP] {
            d.remove_file(file)?;
        }
    }
    root.remove_subdir(name)
}

/// Where the ingress forwards now, as its `backend` file says; `None` when there is none or
/// it cannot be read safely.
pub fn read_route(dir: &Path) -> Option<String> {
    let d = open(dir, false).ok().flatten()?;
    let bytes = d.read_file(ROUTE_FILE, 256).ok().flatten()?;
    Some(String::from_utf8_lossy(&bytes).trim().to_string()).filter(|s| !s.is_empty())
}

/// Points the ingress at `to` (`IP:port`): written whole, then renamed into place.
pub fn write_route(dir: &Path, to: &str) -> Result<(), HostDirError> {
    let d = open(dir, true)?.expect("a created directory opens");
    let file = NewFile { name: ROUTE_FILE, temp: ROUTE_TEMP, mode: 0o644, exact_mode: true, owner: None };
    d.write_file(file, format!("{to}\n").as_bytes())
}

/// The ingress's last report; `None` when there is none or it cannot be read safely.
pub fn read_report(dir: &Path) -> Option<IngressState> {
    let d = open(dir, false).ok().flatten()?;
    let bytes = d.read_file(REPORT_FILE, 64 * 1024).ok().flatten()?;
    serde_json::from_slice(&bytes).ok()
}

/// Waits until the ingress reports `to` as its backend; the error says what it reported last.
pub async fn wait_taken(dir: &Path, to: &str, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let report = read_report(dir);
        if report.as_ref().and_then(|r| r.backend.as_deref()) == Some(to) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let last = report.and_then(|r| r.backend).unwrap_or_else(|| "none".into());
            return Err(format!(
                "the ingress did not take the new runtime {to} within {} s (it forwards to {last})",
                within.as_secs()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the ingress has no request in flight to `from`, at most `deadline`; returns
/// how many were still in flight when the wait ended.
pub async fn drain(dir: &Path, from: &str, deadline: Duration) -> u64 {
    let end = Instant::now() + deadline;
    loop {
        let left = read_report(dir).map(|r| r.inflight.get(from).copied().unwrap_or(0)).unwrap_or(0);
        if left == 0 || Instant::now() >= end {
            return left;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_written_whole_and_read_back_and_a_link_in_its_place_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ingress").join("acme");
        assert_eq!(read_route(&dir), None);
        write_route(&dir, "10.1.2.3:18789").unwrap();
        assert_eq!(read_route(&dir).as_deref(), Some("10.1.2.3:18789"));
        // What the ingress could leave: a link named like the report. It is not read through.
        std::fs::write(tmp.path().join("secret"), r#"{"backend":"1.1.1.1:1"}"#).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), dir.join(REPORT_FILE)).unwrap();
        assert!(read_report(&dir).is_none());
        std::fs::remove_file(dir.join(REPORT_FILE)).unwrap();
        std::fs::write(dir.join(REPORT_FILE), r#"{"backend":"10.1.2.3:18789","inflight":{"10.1.2.2:18789":2}}"#)
            .unwrap();
        let r = read_report(&dir).unwrap();
        assert_eq!(r.backend.as_deref(), Some("10.1.2.3:18789"));
        assert_eq!(r.inflight["10.1.2.2:18789"], 2);

        remove(&dir).unwrap();
        assert!(!dir.exists(), "the directory goes with its files");
        assert!(tmp.path().join("secret").exists(), "what the link pointed at stays");
        remove(&dir).unwrap();
    }
}
