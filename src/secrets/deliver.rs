//! Host-side delivery of a tenant's secrets: plaintext goes only into a per-tenant directory on
//! tmpfs, written so that the runtime never sees a partial file, readable only by the
//! container's user.
//!
//! Layout: `<root>/<tenant>/` (mode 0700, owned by the container's uid) holding one file per
//! secret (mode 0400, same owner). The directory is bind-mounted read-only into the container.
//! Files are replaced by rename inside that same directory, so the bind mount keeps showing the
//! directory and the runtime sees either the old value or the new one.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Gid, Uid};

use super::Plaintext;
use crate::spec::{SecretName, TenantName};

/// `statfs` type of tmpfs (linux/magic.h).
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// Why secrets could not be delivered. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "the secrets directory {dir} is not on tmpfs, so plaintext would reach a disk; use a tmpfs such as \
         /run/tenantd/secrets (or set [secrets] allow_non_tmpfs = true for development only)"
    )]
    NotTmpfs { dir: PathBuf },
    #[error("secrets directory {path}: {message}")]
    Io { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DeliveryError + '_ {
    move |e| DeliveryError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// The secrets root of the daemon, checked to be on tmpfs before anything is written there.
#[derive(Debug, Clone)]
pub struct SecretsRoot {
    root: PathBuf,
}

impl SecretsRoot {
    /// Creates `root` (0700) if needed and checks that it is on tmpfs; `allow_non_tmpfs` lets a
    /// development setup use any filesystem, with a loud warning.
    pub fn open(root: &Path, allow_non_tmpfs: bool) -> Result<Self, DeliveryError> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(root).map_err(io(root))?;
        let fs = rustix::fs::statfs(root).map_err(|e| io(root)(e.into()))?;
        if fs.f_type as u64 != TMPFS_MAGIC {
            if !allow_non_tmpfs {
                return Err(DeliveryError::NotTmpfs { dir: root.to_path_buf() });
            }
            tracing::warn!(dir = %root.display(), "secrets directory is NOT on tmpfs: plaintext secrets reach a disk (allow_non_tmpfs is set)");
        }
        Ok(Self { root: root.to_path_buf() })
    }

    /// The directory of one tenant's secrets.
    pub fn tenant_dir(&self, tenant: &TenantName) -> PathBuf {
        self.root.join(tenant.as_str())
    }

    /// Writes `values` into the tenant's directory, owned by `uid:gid`, and removes every file
    /// whose name is not in `keep`. Each value is written to a temporary file in the same
    /// directory and renamed into place; files not in `values` are left as they are.
    pub fn write(
        &self,
        tenant: &TenantName,
        (uid, gid): (u32, u32),
        values: &BTreeMap<SecretName, Plaintext>,
        keep: &[&SecretName],
    ) -> Result<(), DeliveryError> {
        let dir = self.tenant_dir(tenant);
        std::fs::DirBuilder::new().mode(0o700).create(&dir).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(io(&dir)(e)),
        })?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
        chown(&dir, uid, gid)?;
        for (name, value) in values {
            let path = dir.join(name.as_str());
            let tmp = dir.join(format!(".{}.tmp", name.as_str()));
            let _ = std::fs::remove_file(&tmp);
            let written = write_new(&tmp, value)
                .and_then(|()| chown(&tmp, uid, gid))
                .and_then(|()| std::fs::rename(&tmp, &path).map_err(io(&path)));
            if written.is_err() {
                // No partial plaintext stays behind.
                let _ = std::fs::remove_file(&tmp);
            }
            written?;
        }
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep.iter().any(|k| k.as_str() == name) {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        Ok(())
    }

    /// Removes the tenant's plaintext (when the tenant is deleted).
    pub fn remove(&self, tenant: &TenantName) -> Result<(), DeliveryError> {
        let dir = self.tenant_dir(tenant);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir)(e)),
            _ => Ok(()),
        }
    }
}

fn write_new(path: &Path, value: &Plaintext) -> Result<(), DeliveryError> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o400).open(path).map_err(io(path))?;
    f.write_all(value.expose()).and_then(|()| f.sync_all()).map_err(io(path))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), DeliveryError> {
    rustix::fs::chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(|e| io(path)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantName {
        s.parse().unwrap()
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<SecretName, Plaintext> {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), Plaintext::new(v.as_bytes().to_vec()))).collect()
    }

    fn shm_dir() -> Option<tempfile::TempDir> {
        let dir = tempfile::tempdir_in("/dev/shm").ok()?;
        let fs = rustix::fs::statfs(dir.path()).ok()?;
        (fs.f_type as u64 == TMPFS_MAGIC).then_some(dir)
    }

    #[test]
    fn a_directory_on_disk_is_refused_unless_allowed() {
        let disk = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let root = disk.path().join("secrets");
        let e = SecretsRoot::open(&root, false).unwrap_err();
        assert!(matches!(e, DeliveryError::NotTmpfs { .. }), "{e}");
        assert!(e.to_string().contains("not on tmpfs"), "{e}");
        assert!(SecretsRoot::open(&root, true).is_ok());
    }

    #[test]
    fn values_are_written_owner_only_replaced_whole_and_removed_with_the_tenant() {
        let Some(shm) = shm_dir() else {
            panic!("/dev/shm must be a tmpfs on this machine");
        };
        let root = SecretsRoot::open(&shm.path().join("secrets"), false).unwrap();
        let me = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        let (tg, gw): (SecretName, SecretName) = ("TG".parse().unwrap(), "GW".parse().unwrap());
        root.write(&t("acme"), me, &values(&[("TG", "one"), ("GW", "gw")]), &[&tg, &gw]).unwrap();
        let dir = root.tenant_dir(&t("acme"));
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let tg_file = dir.join("TG");
        assert_eq!(std::fs::metadata(&tg_file).unwrap().permissions().mode() & 0o777, 0o400);
        assert_eq!(std::fs::read(&tg_file).unwrap(), b"one");

        // Rotated, and GW dropped: the file is replaced, the dropped one removed, no temp left.
        root.write(&t("acme"), me, &values(&[("TG", "two")]), &[&tg]).unwrap();
        assert_eq!(std::fs::read(&tg_file).unwrap(), b"two");
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["TG"]);

        root.remove(&t("acme")).unwrap();
        assert!(!dir.exists());
        root.remove(&t("acme")).unwrap();
    }
}
