//! Reading and atomically writing status files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::model::TenantStatus;
use crate::spec::TenantName;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{}: {operation} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a status file: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

/// The status directory (`<state_dir>/status`).
#[derive(Debug, Clone)]
pub struct StatusStore {
    dir: PathBuf,
}

const TEMP_PREFIX: &str = ".tmp-";

impl StatusStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one tenant. Tenant names are DNS labels, so this stays inside the directory.
    pub fn path(&self, tenant: &TenantName) -> PathBuf {
        self.dir.join(format!("{tenant}.json"))
    }

    /// Creates the directory and removes temp files a crash may have left.
    pub fn prepare(&self) -> Result<(), StatusError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| StatusError::Io {
            path: self.dir.clone(),
            operation: "create directory",
            source,
        })?;
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    // A leftover of an interrupted write; the real file is intact.
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    pub fn read(&self, tenant: &TenantName) -> Result<Option<TenantStatus>, StatusError> {
        read_file(&self.path(tenant))
    }

    /// Every status file, by tenant. Files that cannot be parsed are skipped.
    pub fn read_all(&self) -> Result<BTreeMap<TenantName, TenantStatus>, StatusError> {
        let mut out = BTreeMap::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(source) => return Err(StatusError::Io { path: self.dir.clone(), operation: "list", source }),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let Ok(tenant) = stem.parse::<TenantName>() else {
                continue;
            };
            if let Ok(Some(s)) = read_file(&e.path()) {
                out.insert(tenant, s);
            }
        }
        Ok(out)
    }

    /// Writes `status` unless the file already holds exactly it. Returns whether it wrote.
    /// The write is atomic: a temp file in the same directory, fsync, rename, fsync of the directory.
    pub fn write(&self, status: &TenantStatus) -> Result<bool, StatusError> {
        let tenant: TenantName = status.tenant.parse().map_err(|e: crate::spec::names::InvalidValue| {
            StatusError::Parse { path: self.dir.clone(), message: e.to_string() }
        })?;
        let path = self.path(&tenant);
        if let Ok(Some(existing)) = read_file(&path) {
            if &existing == status {
                return Ok(false);
            }
        }
        let mut text = serde_json::to_string_pretty(status).expect("status serializes");
        text.push('\n');
        let tmp = self.dir.join(format!("{TEMP_PREFIX}{tenant}.{}", std::process::id()));
        let io = |operation: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StatusError::Io { path, operation, source }
        };
        let result = (|| {
            let mut f = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
            f.write_all(text.as_bytes()).map_err(io("write", &tmp))?;
            f.sync_all().map_err(io("fsync", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
            if let Ok(d) = std::fs::File::open(&self.dir) {
                d.sync_all().map_err(io("fsync", &self.dir))?;
            }
            Ok(true)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn read_file(path: &Path) -> Result<Option<TenantStatus>, StatusError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StatusError::Parse { path: path.to_path_buf(), message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StatusError::Io { path: path.to_path_buf(), operation: "read", source }),
    }
}
