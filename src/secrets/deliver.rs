//! Host-side delivery of a tenant's secrets: plaintext goes only into a per-tenant directory on
//! tmpfs, written so that the runtime never sees a partial file, readable only by the
//! container's user.
//!
//! Layout: `<root>/<tenant>/` holding one file per secret (mode 0400, owned by the container's
//! uid). The directory is owned by the container's uid and tenantd's own group, mode 0770 (mode
//! 0700 and tenantd's while no container user is known): tenantd's systemd unit gives it no
//! CAP_DAC_OVERRIDE, so the group is how it replaces files in a directory it gave away. The
//! directory is bind-mounted read-only into the container.
//! Files are replaced by rename inside that same directory, so the bind mount keeps showing the
//! directory and the runtime sees either the old value or the new one.
//!
//! The root must be a real directory (not a link) owned by root or by tenantd's own user and
//! writable by nobody else: whoever could write there could point a tenant's directory anywhere.
//! Below it nothing is followed through a link (see [`crate::hostdir`]), and only the files the
//! caller names (the secrets tenantd wrote and recorded) are ever removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Plaintext;
use crate::hostdir::{HostDir, HostDirError, NewFile, Owners};
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
    #[error("secrets directory ([secrets] dir): {0}")]
    Root(#[source] HostDirError),
    #[error("secrets of tenant {tenant}: {source}")]
    Tenant {
        tenant: TenantName,
        #[source]
        source: HostDirError,
    },
}

/// The secrets root of the daemon, checked (owner, mode, not a link) before anything is read or
/// written there.
#[derive(Debug)]
pub struct SecretsRoot {
    dir: HostDir,
}

/// Where a tenant's secrets directory stands before a write or removal.
#[derive(Debug, Clone, Copy)]
pub struct TenantOwner {
    /// `uid:gid` the directory and its files get (the container's user).
    pub wanted: Option<(u32, u32)>,
    /// `uid:gid` it was given when last delivered, as recorded: it may still own the directory.
    pub recorded: Option<(u32, u32)>,
}

impl TenantOwner {
    fn owners(&self) -> Owners {
        Owners::trusted().and(self.wanted.map(|o| o.0)).and(self.recorded.map(|o| o.0))
    }
}

impl SecretsRoot {
    /// Opens `root`, made (0700) when missing and `create` is set; `None` when it is missing
    /// and not to be made. Refused when it is a link, is owned by anyone but root or tenantd's
    /// user, or is writable by its group or others.
    pub fn open(root: &Path, create: bool) -> Result<Option<Self>, DeliveryError> {
        let Some(dir) =
            HostDir::open(root, create.then_some(0o700), &Owners::trusted()).map_err(DeliveryError::Root)?
        else {
            return Ok(None);
        };
        dir.refuse_shared_writes().map_err(DeliveryError::Root)?;
        Ok(Some(Self { dir }))
    }

    /// Checks that the root is on tmpfs; `allow_non_tmpfs` lets a development setup use any
    /// filesystem, with a loud warning.
    pub fn check_tmpfs(&self, allow_non_tmpfs: bool) -> Result<(), DeliveryError> {
        if self.dir.fs_type().map_err(DeliveryError::Root)? != TMPFS_MAGIC {
            if !allow_non_tmpfs {
                return Err(DeliveryError::NotTmpfs { dir: self.dir.path().to_path_buf() });
            }
            tracing::warn!(dir = %self.dir.path().display(), "secrets directory is NOT on tmpfs: plaintext secrets reach a disk (allow_non_tmpfs is set)");
        }
        Ok(())
    }

    /// The directory of one tenant's secrets.
    pub fn tenant_dir(&self, tenant: &TenantName) -> PathBuf {
        self.dir.path().join(tenant.as_str())
    }

    /// A directory of the root's own, for tenantd's records (`.delivered`; never a tenant's
    /// name, which cannot start with a dot), made (0700) when missing and `create` is set.
    pub fn own_dir(&self, name: &str, create: bool) -> Result<Option<HostDir>, DeliveryError> {
        let dir = self.dir.subdir(name, create.then_some(0o700), &Owners::trusted()).map_err(DeliveryError::Root)?;
        if let Some(d) = &dir {
            d.set_mode(0o700).map_err(DeliveryError::Root)?;
        }
        Ok(dir)
    }

    /// Writes `values` into the tenant's directory, owned by `owner.wanted`, and removes the
    /// secrets named in `drop` (ones tenantd wrote before and the spec no longer has). Each
    /// value is written to a temporary file in the same directory and renamed into place; other
    /// files are left as they are. The directory must be a real one, owned by root, tenantd's
    /// user, or the container's user (wanted or recorded); anything else fails the tenant.
    pub fn write(
        &self,
        tenant: &TenantName,
        owner: TenantOwner,
        values: &BTreeMap<SecretName, Plaintext>,
        drop: &[SecretName],
    ) -> Result<(), DeliveryError> {
        let err = |source| DeliveryError::Tenant { tenant: tenant.clone(), source };
        let create = (!values.is_empty()).then_some(0o700);
        let Some(dir) = self.dir.subdir(tenant.as_str(), create, &owner.owners()).map_err(err)? else {
            return Ok(());
        };
        match owner.wanted {
            // The mode first, while the directory may still be tenantd's: changing the mode of
            // another user's directory takes CAP_FOWNER, which the unit does not give.
            Some((uid, _)) => {
                dir.set_mode(0o770).map_err(err)?;
                dir.chown((uid, rustix::process::getegid().as_raw())).map_err(err)?;
            }
            None => dir.set_mode(0o700).map_err(err)?,
        }
        for (name, value) in values {
            let temp = temp_name(name);
            let file = NewFile { name: name.as_str(), temp: &temp, mode: 0o400, exact_mode: true, owner: owner.wanted };
            dir.write_file(file, value.expose()).map_err(err)?;
        }
        for name in drop {
            dir.remove_file(name.as_str()).map_err(err)?;
            dir.remove_file(&temp_name(name)).map_err(err)?;
        }
        Ok(())
    }

    /// Removes the tenant's secrets named in `recorded` (and their temporary files), then its
    /// directory if nothing else is left in it; an entry tenantd did not write stays, and so
    /// does the directory, and the error names them.
    pub fn remove(
        &self,
        tenant: &TenantName,
        owner: TenantOwner,
        recorded: &[SecretName],
    ) -> Result<(), DeliveryError> {
        let err = |source| DeliveryError::Tenant { tenant: tenant.clone(), source };
        if let Some(dir) = self.dir.subdir(tenant.as_str(), None, &owner.owners()).map_err(err)? {
            for name in recorded {
                dir.remove_file(name.as_str()).map_err(err)?;
                dir.remove_file(&temp_name(name)).map_err(err)?;
            }
        }
        self.dir.remove_subdir(tenant.as_str()).map_err(err)
    }
}

/// The temporary name a secret is written under before it is renamed into place.
fn temp_name(name: &SecretName) -> String {
    format!(".{name}.tmp")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn t(s: &str) -> TenantName {
        s.parse().unwrap()
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<SecretName, Plaintext> {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), Plaintext::new(v.as_bytes().to_vec()))).collect()
    }

    fn shm_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir_in("/dev/shm").expect("/dev/shm must be a tmpfs on this machine");
        assert_eq!(rustix::fs::statfs(dir.path()).unwrap().f_type as u64, TMPFS_MAGIC);
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_directory_on_disk_is_refused_unless_allowed() {
        let disk = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let root = SecretsRoot::open(&disk.path().join("secrets"), true).unwrap().unwrap();
        let e = root.check_tmpfs(false).unwrap_err();
        assert!(matches!(e, DeliveryError::NotTmpfs { .. }), "{e}");
        assert!(e.to_string().contains("not on tmpfs"), "{e}");
        assert!(root.check_tmpfs(true).is_ok());
    }

    #[test]
    fn values_are_written_owner_only_replaced_whole_and_removed_with_the_tenant() {
        let shm = shm_dir();
        let root = SecretsRoot::open(&shm.path().join("secrets"), true).unwrap().unwrap();
        root.check_tmpfs(false).unwrap();
        let me = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        let owner = TenantOwner { wanted: Some(me), recorded: None };
        let (tg, gw): (SecretName, SecretName) = ("TG".parse().unwrap(), "GW".parse().unwrap());
        root.write(&t("acme"), owner, &values(&[("TG", "one"), ("GW", "gw")]), &[]).unwrap();
        let dir = root.tenant_dir(&t("acme"));
        // The container's user, and tenantd by its group (it may hold no CAP_DAC_OVERRIDE).
        assert_eq!(mode(&dir), 0o770);
        let egid = rustix::process::getegid().as_raw();
        assert_eq!((std::fs::metadata(&dir).unwrap().uid(), std::fs::metadata(&dir).unwrap().gid()), (me.0, egid));
        let tg_file = dir.join("TG");
        assert_eq!(mode(&tg_file), 0o400);
        assert_eq!(std::fs::read(&tg_file).unwrap(), b"one");

        // Rotated, and GW dropped: the file is replaced, the dropped one removed, no temp left.
        root.write(&t("acme"), owner, &values(&[("TG", "two")]), std::slice::from_ref(&gw)).unwrap();
        assert_eq!(std::fs::read(&tg_file).unwrap(), b"two");
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["TG"]);

        root.remove(&t("acme"), owner, std::slice::from_ref(&tg)).unwrap();
        assert!(!dir.exists());
        root.remove(&t("acme"), owner, &[tg]).unwrap();
    }

    #[test]
    fn a_root_of_another_owner_open_to_others_or_a_link_is_refused() {
        let shm = shm_dir();
        let root = shm.path().join("secrets");
        std::fs::create_dir(&root).unwrap();
        rustix::fs::chown(&root, Some(rustix::fs::Uid::from_raw(12345)), None).unwrap();
        let e = SecretsRoot::open(&root, true).unwrap_err().to_string();
        assert!(e.contains("owned by uid 12345") && e.contains(&root.display().to_string()), "{e}");
        rustix::fs::chown(&root, Some(rustix::fs::Uid::from_raw(0)), None).unwrap();
        for open in [0o777, 0o770, 0o1777] {
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(open)).unwrap();
            let e = SecretsRoot::open(&root, true).unwrap_err().to_string();
            assert!(e.contains("writable by its group or by others") && e.contains("chmod go-w"), "{e}");
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = shm.path().join("link");
        std::os::unix::fs::symlink(&root, &link).unwrap();
        let e = SecretsRoot::open(&link, true).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert!(std::fs::read_dir(&root).unwrap().next().is_none(), "nothing written");
        assert_eq!((mode(&root), std::fs::metadata(&root).unwrap().uid()), (0o700, 0));
    }
}
