//! Reading and atomically writing status files.
//!
//! The directory is `<state_dir>/status` (mode 0750) with one `<tenant>.json` per tenant (mode
//! 0640): a status may record an error, so it is for tenantd and its group (whom the operator
//! lets monitor it), never for every user of the host. A directory or file an earlier version
//! left wider gets these modes on the next [`StatusStore::prepare`] or write. The directory is
//! reached through [`crate::hostdir`]: a link where the directory or a status file belongs is
//! never followed, and an entry that is not tenantd's is left as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::TenantStatus;
use super::transition::transition;
use crate::hostdir::{HostDir, HostDirError, NewFile, Owners};
use crate::spec::TenantName;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{}: not a status file: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("status directory: {0}")]
    Dir(#[from] HostDirError),
}

/// The status directory (`<state_dir>/status`).
#[derive(Debug, Clone)]
pub struct StatusStore {
    dir: PathBuf,
}

/// Every status file of a directory: those that hold a status, and those that do not (with
/// why), by tenant.
#[derive(Debug, Default)]
pub struct StatusListing {
    pub statuses: BTreeMap<TenantName, TenantStatus>,
    pub unreadable: BTreeMap<TenantName, String>,
}

const TEMP_PREFIX: &str = ".tmp-";
/// The mode of the directory: tenantd's user and group.
pub const DIR_MODE: u32 = 0o750;
/// The mode of a status file: written by tenantd, read by its group.
pub const FILE_MODE: u32 = 0o640;
/// The largest status file read; real ones are a few kilobytes.
const FILE_LIMIT: u64 = 4 << 20;

impl StatusStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one tenant. Tenant names are DNS labels, so this stays inside the directory.
    pub fn path(&self, tenant: &TenantName) -> PathBuf {
        self.dir.join(file_name(tenant))
    }

    fn open(&self, create: bool) -> Result<Option<HostDir>, StatusError> {
        Ok(HostDir::open(&self.dir, create.then_some(DIR_MODE), &Owners::trusted())?)
    }

    /// Creates the directory, narrows its mode and every status file's to the ones above, and
    /// removes temp files a crash may have left (regular files with tenantd's temp prefix).
    /// Only a directory that cannot be used is an error: an entry that cannot be fixed (a link
    /// where a status file belongs) is logged, listed by [`StatusStore::list`] and fails the
    /// write of its own tenant alone.
    pub fn prepare(&self) -> Result<(), StatusError> {
        let dir = self.open(true)?.expect("made when missing");
        dir.limit_mode(DIR_MODE)?;
        for name in dir.entries()? {
            let result = if name.starts_with(TEMP_PREFIX) {
                // A leftover of an interrupted write; the real file is intact.
                dir.remove_file(&name).map(drop)
            } else if status_tenant(&name).is_some() {
                dir.limit_file_mode(&name, FILE_MODE)
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "status directory entry left as it is");
            }
        }
        Ok(())
    }

    pub fn read(&self, tenant: &TenantName) -> Result<Option<TenantStatus>, StatusError> {
        let Some(dir) = self.open(false)? else { return Ok(None) };
        read_file(&dir, &file_name(tenant))
    }

    /// Every status file, by tenant; files that cannot be read or parsed are left out (see
    /// [`StatusStore::list`] for them).
    pub fn read_all(&self) -> Result<BTreeMap<TenantName, TenantStatus>, StatusError> {
        Ok(self.list()?.statuses)
    }

    /// Every status file, by tenant, with the ones that hold no status (corrupt, a link, not a
    /// regular file) and why. A missing directory lists nothing.
    pub fn list(&self) -> Result<StatusListing, StatusError> {
        let mut out = StatusListing::default();
        let Some(dir) = self.open(false)? else { return Ok(out) };
        for name in dir.entries()? {
            let Some(tenant) = status_tenant(&name) else { continue };
            match read_file(&dir, &name) {
                Ok(Some(s)) => {
                    out.statuses.insert(tenant, s);
                }
                Ok(None) => {}
                Err(e) => {
                    out.unreadable.insert(tenant, e.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Writes `status` unless the file already holds exactly it (then only its mode is
    /// narrowed, if an earlier version left it wider). Returns whether it wrote. The write is
    /// atomic: a temp file in the same directory, fsync, rename, fsync of the directory.
    ///
    /// Once written, a change of phase from what the file held is logged (see
    /// [`super::transition`]): once, since the same phase is not a change the next time.
    pub fn write(&self, status: &TenantStatus) -> Result<bool, StatusError> {
        let tenant: TenantName = status.tenant.parse().map_err(|e: crate::spec::names::InvalidValue| {
            StatusError::Parse { path: self.dir.clone(), message: e.to_string() }
        })?;
        let dir = self.open(true)?.expect("made when missing");
        let name = file_name(&tenant);
        let existing = read_file(&dir, &name).ok().flatten();
        if existing.as_ref() == Some(status) {
            dir.limit_file_mode(&name, FILE_MODE)?;
            return Ok(false);
        }
        let mut text = serde_json::to_string_pretty(status).expect("status serializes");
        text.push('\n');
        let temp = format!("{TEMP_PREFIX}{tenant}.{}", std::process::id());
        let file = NewFile { name: &name, temp: &temp, mode: FILE_MODE, exact_mode: false, owner: None };
        dir.write_file(file, text.as_bytes())?;
        if let Some(t) = transition(existing.as_ref(), status) {
            t.log();
        }
        Ok(true)
    }
}

fn file_name(tenant: &TenantName) -> String {
    format!("{tenant}.json")
}

/// The tenant whose status file `name` is, if it is one.
fn status_tenant(name: &str) -> Option<TenantName> {
    name.strip_suffix(".json")?.parse().ok()
}

fn read_file(dir: &HostDir, name: &str) -> Result<Option<TenantStatus>, StatusError> {
    let Some(bytes) = dir.read_file(name, FILE_LIMIT)? else { return Ok(None) };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StatusError::Parse { path: dir.path().join(name), message: e.to_string() })
}
