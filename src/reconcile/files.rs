//! A tenant's runtime files on the host: what was delivered last (observed, for the plan), and
//! writing or removing them (apply).
//!
//! The record of what was delivered (a hash per file, and the owner the secrets were given)
//! lives next to the secrets, on tmpfs, in `.delivered/<tenant>.json`: after a reboot both are
//! gone together, and the next pass delivers again. The record is also the list of what tenantd
//! may remove: a file is entered in it (with an empty hash, which no plan takes as delivered)
//! before it is written, and only recorded files are ever deleted.
//!
//! The generated config goes to `<state_dir>/runtime-config/<tenant>/openclaw.json`. Every
//! directory here is reached through [`crate::hostdir`]: no link is followed, and a directory
//! goes only once it is empty.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::DaemonConfig;
use crate::hostdir::{HostDir, HostDirError, NewFile, Owners};
use crate::render::{secret_key, FileHashes as Delivered, FileRoots, OpenClawFiles, CONFIG_FILE};
use crate::secrets::{Identities, Plaintext, SecretsRoot, TenantOwner};
use crate::spec::{SecretName, TenantName};

/// The directory of the records, in the secrets root.
const RECORDS_DIR: &str = ".delivered";
/// The hash a file is recorded with while it is being written: never a real hash, so a plan
/// made after an interrupted write delivers it again.
const PENDING: &str = "";
/// The largest record read; real ones are a few hundred bytes.
const RECORD_LIMIT: u64 = 1 << 20;
/// The temporary name the generated config is written under.
const CONFIG_TEMP: &str = ".openclaw.json.tmp";

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
    #[error("runtime config: {0}")]
    Config(#[source] HostDirError),
    #[error("record of delivered files: {0}")]
    Record(#[source] HostDirError),
}

/// What `.delivered/<tenant>.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Record {
    /// A hash per file delivered (`openclaw.json`, `secret/<NAME>`), [`PENDING`] while written.
    files: Delivered,
    /// `uid:gid` the tenant's secrets directory was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<(u32, u32)>,
}

impl Record {
    /// A record as written now, or as earlier versions wrote it (the hashes alone).
    fn parse(bytes: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum AnyRecord {
            Current(Record),
            HashesOnly(Delivered),
        }
        match serde_json::from_slice(bytes).ok()? {
            AnyRecord::Current(r) => Some(r),
            AnyRecord::HashesOnly(files) => Some(Record { files, owner: None }),
        }
    }

    /// The secrets it names.
    fn secrets(&self) -> Vec<SecretName> {
        self.files.keys().filter_map(|k| k.strip_prefix("secret/")?.parse().ok()).collect()
    }
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

    fn record_name(tenant: &TenantName) -> String {
        format!("{tenant}.json")
    }

    /// The records directory, when the secrets root and it are there.
    fn records(&self, create: bool) -> Result<Option<(SecretsRoot, HostDir)>, FilesError> {
        let Some(root) = SecretsRoot::open(&self.roots.secrets, create)? else { return Ok(None) };
        let Some(records) = root.own_dir(RECORDS_DIR, create)? else { return Ok(None) };
        Ok(Some((root, records)))
    }

    fn read_record(records: &HostDir, tenant: &TenantName) -> Result<Option<Record>, FilesError> {
        let Some(bytes) = records.read_file(&Self::record_name(tenant), RECORD_LIMIT).map_err(FilesError::Record)?
        else {
            return Ok(None);
        };
        let record = Record::parse(&bytes);
        if record.is_none() {
            tracing::warn!(tenant = %tenant, dir = %records.path().display(), "record of delivered files is unreadable; its files are delivered again");
        }
        Ok(record)
    }

    fn write_record(records: &HostDir, tenant: &TenantName, record: &Record) -> Result<(), FilesError> {
        let name = Self::record_name(tenant);
        let temp = format!(".{name}.tmp");
        let text = serde_json::to_string(record).expect("a record serializes");
        let file = NewFile { name: &name, temp: &temp, mode: 0o600, exact_mode: true, owner: None };
        records.write_file(file, text.as_bytes()).map_err(FilesError::Record)
    }

    /// What was delivered to `tenant`, if anything. A record that cannot be read safely counts
    /// as nothing delivered: the plan then writes the files, and the write says what is wrong.
    pub fn delivered(&self, tenant: &TenantName) -> Option<Delivered> {
        let (_, records) = self.records(false).ok()??;
        Self::read_record(&records, tenant).ok()?.map(|r| r.files)
    }

    /// What was delivered to every tenant.
    pub fn delivered_all(&self) -> BTreeMap<TenantName, Delivered> {
        let Ok(Some((_, records))) = self.records(false) else { return BTreeMap::new() };
        let Ok(names) = records.entries() else { return BTreeMap::new() };
        names
            .iter()
            .filter_map(|n| n.strip_suffix(".json")?.parse::<TenantName>().ok())
            .filter_map(|t| {
                let record = Self::read_record(&records, &t).ok()??;
                Some((t, record.files))
            })
            .collect()
    }

    /// Writes the tenant's files named in `changed` (`openclaw.json`, `secret/<NAME>`) and
    /// removes the ones it no longer has that tenantd had delivered; others stay as they are.
    /// Every secret to write is decrypted, completely and in memory, before anything is
    /// written; one that fails leaves every file as it was.
    pub fn write(&self, tenant: &TenantName, files: &OpenClawFiles, changed: &[String]) -> Result<(), FilesError> {
        let plaintexts = self.decrypt_changed(files, changed)?;
        let wanted_owner =
            if plaintexts.is_empty() { files.owner } else { Some(files.owner.ok_or(FilesError::NamedUser)?) };
        let (root, records) = self.records(true)?.expect("made when missing");
        if !plaintexts.is_empty() {
            // Before anything, the record included, is written there.
            root.check_tmpfs(self.allow_non_tmpfs)?;
        }
        let previous = Self::read_record(&records, tenant)?.unwrap_or_default();
        let dropped: Vec<SecretName> =
            previous.secrets().into_iter().filter(|name| !files.secrets.contains_key(name)).collect();

        // Entered in the record before they are written, so whatever happens next, tenantd
        // knows these files are its own.
        let mut pending = previous.clone();
        for key in changed.iter().filter(|k| files.hashes.contains_key(*k)) {
            pending.files.insert(key.clone(), PENDING.to_string());
        }
        Self::write_record(&records, tenant, &pending)?;

        if changed.iter().any(|c| c == CONFIG_FILE) {
            match &files.config {
                Some(text) => self.write_config(tenant, text)?,
                None => self.remove_config(tenant)?,
            }
        }
        let owner = TenantOwner { wanted: wanted_owner, recorded: previous.owner };
        if files.secrets.is_empty() && !dropped.is_empty() {
            root.remove(tenant, owner, &dropped)?;
        } else if !plaintexts.is_empty() || !dropped.is_empty() {
            root.write(tenant, owner, &plaintexts, &dropped)?;
        }
        Ok(())
    }

    fn decrypt_changed(
        &self,
        files: &OpenClawFiles,
        changed: &[String],
    ) -> Result<BTreeMap<SecretName, Plaintext>, FilesError> {
        self.decrypt_where(files, |name| changed.contains(&secret_key(name)))
    }

    /// Every secret of `files`, decrypted completely and in memory; one that fails fails all.
    pub fn decrypt_all(&self, files: &OpenClawFiles) -> Result<BTreeMap<SecretName, Plaintext>, FilesError> {
        self.decrypt_where(files, |_| true)
    }

    fn decrypt_where(
        &self,
        files: &OpenClawFiles,
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
    pub fn record(&self, tenant: &TenantName, files: &OpenClawFiles) -> Result<(), FilesError> {
        let (_, records) = self.records(true)?.expect("made when missing");
        let owner = files.owner.filter(|_| !files.secrets.is_empty());
        Self::write_record(&records, tenant, &Record { files: files.hashes.clone(), owner })
    }

    /// Where the tenant's ingress directory is.
    pub fn ingress_dir(&self, tenant: &TenantName) -> PathBuf {
        self.roots.ingress.join(tenant.as_str())
    }

    /// Removes what was delivered to the tenant: its config, the secrets its record names, the
    /// directories once empty, and then the record. Anything tenantd did not write stays where
    /// it is and is reported; the record is then kept, so the removal is tried again.
    pub fn remove(&self, tenant: &TenantName) -> Result<(), FilesError> {
        let config = self.remove_config(tenant);
        let Some((root, records)) = self.records(false)? else { return config };
        let record = Self::read_record(&records, tenant)?.unwrap_or_default();
        let owner = TenantOwner { wanted: None, recorded: record.owner };
        root.remove(tenant, owner, &record.secrets())?;
        config?;
        records.remove_file(&Self::record_name(tenant)).map_err(FilesError::Record)?;
        Ok(())
    }

    /// The runtime-config root (`<state_dir>/runtime-config`), when it is there or `create`.
    fn config_root(&self, create: bool) -> Result<Option<HostDir>, FilesError> {
        let root = HostDir::open(&self.roots.config, create.then_some(0o755), &Owners::trusted())
            .map_err(FilesError::Config)?;
        if let Some(r) = &root {
            r.refuse_shared_writes().map_err(FilesError::Config)?;
        }
        Ok(root)
    }

    /// The config file (no secrets in it, only references), world-readable so any container
    /// user can read it through the read-only mount: its mode is set whatever the umask.
    fn write_config(&self, tenant: &TenantName, text: &str) -> Result<(), FilesError> {
        let root = self.config_root(true)?.expect("made when missing");
        let dir = root
            .subdir(tenant.as_str(), Some(0o755), &Owners::trusted())
            .map_err(FilesError::Config)?
            .expect("made when missing");
        dir.set_mode(0o755).map_err(FilesError::Config)?;
        let file = NewFile { name: CONFIG_FILE, temp: CONFIG_TEMP, mode: 0o444, exact_mode: true, owner: None };
        dir.write_file(file, text.as_bytes()).map_err(FilesError::Config)
    }

    /// Removes the tenant's config file and its directory, once empty.
    fn remove_config(&self, tenant: &TenantName) -> Result<(), FilesError> {
        let Some(root) = self.config_root(false)? else { return Ok(()) };
        if let Some(dir) = root.subdir(tenant.as_str(), None, &Owners::trusted()).map_err(FilesError::Config)? {
            dir.remove_file(CONFIG_FILE).map_err(FilesError::Config)?;
            dir.remove_file(CONFIG_TEMP).map_err(FilesError::Config)?;
        }
        root.remove_subdir(tenant.as_str()).map_err(FilesError::Config)
    }
}
