//! A tenant's runtime files on the host: what was delivered last (observed, for the plan), and
//! writing or removing them (apply).
//!
//! The record of what was delivered (a hash per file) lives next to the secrets, on tmpfs: after
//! a reboot both are gone together, and the next pass delivers again.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::config::DaemonConfig;
use crate::render::{secret_key, FileHashes as Delivered, FileRoots, RuntimeFiles, CONFIG_FILE};
use crate::secrets::{Identities, Plaintext, SecretsRoot};
use crate::spec::{SecretName, TenantName};

/// Why a tenant's files could not be delivered. Names the secret, never its value.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("secret {name} (spec.secrets.{name}.value) cannot be decrypted: {message}")]
    Decrypt { name: SecretName, message: String },
    #[error("the tenant has secrets but no age identity is configured ([secrets] identity_file, or LoadCredential=age-identity)")]
    NoIdentity,
    #[error("{0}")]
    Identity(String),
    #[error(
        "secrets are owned by the container's user, which must be numeric (uid or uid:gid) when the tenant has secrets"
    )]
    NamedUser,
    #[error("{0}")]
    Delivery(#[from] crate::secrets::DeliveryError),
    #[error("runtime config {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Delivers runtime files for one daemon configuration.
#[derive(Debug, Clone)]
pub struct FileDelivery {
    roots: FileRoots,
    identity_file: Option<PathBuf>,
    allow_non_tmpfs: bool,
}

impl FileDelivery {
    pub fn new(cfg: &DaemonConfig) -> Self {
        Self::at(cfg.file_roots(), cfg.secrets.identity_file.clone(), cfg.secrets.allow_non_tmpfs)
    }

    /// Delivery into `roots`, decrypting with the identity in `identity_file`.
    pub fn at(roots: FileRoots, identity_file: Option<PathBuf>, allow_non_tmpfs: bool) -> Self {
        Self { roots, identity_file, allow_non_tmpfs }
    }

    fn records_dir(&self) -> PathBuf {
        self.roots.secrets.join(".delivered")
    }

    fn record_path(&self, tenant: &TenantName) -> PathBuf {
        self.records_dir().join(format!("{tenant}.json"))
    }

    /// What was delivered to `tenant`, if anything.
    pub fn delivered(&self, tenant: &TenantName) -> Option<Delivered> {
        let text = std::fs::read_to_string(self.record_path(tenant)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// What was delivered to every tenant.
    pub fn delivered_all(&self) -> BTreeMap<TenantName, Delivered> {
        let Ok(dir) = std::fs::read_dir(self.records_dir()) else { return BTreeMap::new() };
        dir.filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().strip_suffix(".json")?.parse::<TenantName>().ok()?;
                let delivered = self.delivered(&name)?;
                Some((name, delivered))
            })
            .collect()
    }

    /// Writes the tenant's files named in `changed` (`openclaw.json`, `secret/<NAME>`) and
    /// removes secrets it no longer has; others stay as they are. Every secret to write is
    /// decrypted, completely and in memory, before anything is written; one that fails leaves
    /// every file as it was.
    pub fn write(&self, tenant: &TenantName, files: &RuntimeFiles, changed: &[String]) -> Result<(), FilesError> {
        let plaintexts = self.decrypt_changed(files, changed)?;
        if let Some(config) = files.config.as_ref().filter(|_| changed.iter().any(|c| c == CONFIG_FILE)) {
            write_config(&files.config_dir, config)?;
        }
        let secrets_dir_exists = files.secrets_dir.exists();
        if !plaintexts.is_empty() || secrets_dir_exists {
            let owner = files.owner.ok_or(FilesError::NamedUser)?;
            let root = SecretsRoot::open(&self.roots.secrets, self.allow_non_tmpfs)?;
            let keep: Vec<&SecretName> = files.secrets.keys().collect();
            root.write(tenant, owner, &plaintexts, &keep)?;
        }
        Ok(())
    }

    fn decrypt_changed(
        &self,
        files: &RuntimeFiles,
        changed: &[String],
    ) -> Result<BTreeMap<SecretName, Plaintext>, FilesError> {
        self.decrypt_where(files, |name| changed.contains(&secret_key(name)))
    }

    /// Every secret of `files`, decrypted completely and in memory; one that fails fails all.
    pub fn decrypt_all(&self, files: &RuntimeFiles) -> Result<BTreeMap<SecretName, Plaintext>, FilesError> {
        self.decrypt_where(files, |_| true)
    }

    fn decrypt_where(
        &self,
        files: &RuntimeFiles,
        wanted: impl Fn(&SecretName) -> bool,
    ) -> Result<BTreeMap<SecretName, Plaintext>, FilesError> {
        let wanted: Vec<(&SecretName, &crate::spec::AgeArmored)> =
            files.secrets.iter().filter(|(name, _)| wanted(name)).collect();
        if wanted.is_empty() {
            return Ok(BTreeMap::new());
        }
        let path = self.identity_file.as_ref().ok_or(FilesError::NoIdentity)?;
        let ids = Identities::load(path).map_err(|e| FilesError::Identity(e.to_string()))?;
        wanted
            .into_iter()
            .map(|(name, value)| {
                let plain = ids
                    .decrypt(value)
                    .map_err(|e| FilesError::Decrypt { name: name.clone(), message: e.to_string() })?;
                Ok((name.clone(), plain))
            })
            .collect()
    }

    /// Records what was delivered, once the runtime has been told (or restarted).
    pub fn record(&self, tenant: &TenantName, files: &RuntimeFiles) -> Result<(), FilesError> {
        let dir = self.records_dir();
        let io = |e: std::io::Error| FilesError::Io { path: dir.clone(), message: e.to_string() };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io)?;
        let text = serde_json::to_string(&files.hashes).expect("hashes serialize");
        atomic_write(&self.record_path(tenant), text.as_bytes(), 0o600)
    }

    /// Removes everything delivered to the tenant: config, plaintext secrets and the record.
    pub fn remove(&self, tenant: &TenantName) -> Result<(), FilesError> {
        remove_if_present(&self.roots.config.join(tenant.as_str()), |p| std::fs::remove_dir_all(p))?;
        remove_if_present(&self.roots.secrets.join(tenant.as_str()), |p| std::fs::remove_dir_all(p))?;
        remove_if_present(&self.record_path(tenant), |p| std::fs::remove_file(p))
    }
}

/// Removes `path` with `remove`; a path that is already gone is fine.
fn remove_if_present(path: &Path, remove: impl Fn(&Path) -> std::io::Result<()>) -> Result<(), FilesError> {
    match remove(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(FilesError::Io { path: path.to_path_buf(), message: e.to_string() })
        }
        _ => Ok(()),
    }
}

/// The config file (no secrets in it, only references), world-readable so any container user
/// can read it through the read-only mount.
fn write_config(dir: &Path, text: &str) -> Result<(), FilesError> {
    let io = |e: std::io::Error| FilesError::Io { path: dir.to_path_buf(), message: e.to_string() };
    std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(io)?;
    atomic_write(&dir.join(CONFIG_FILE), text.as_bytes(), 0o444)
}

/// Writes `path` through a temporary file in the same directory and a rename.
fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FilesError> {
    let io = |e: std::io::Error| FilesError::Io { path: path.to_path_buf(), message: e.to_string() };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
