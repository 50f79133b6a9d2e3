//! Which state directory converges an instance. Two state directories configured with the same
//! `instance` would each see the other's tenants as orphans and delete them; so the engine
//! records one owner per instance (a marker object, see [`Runtime::claim_owner`]) and a state
//! directory that is not it changes nothing until it takes over explicitly.
//!
//! A state directory's identity is a random id in `<state_dir>/state-id`, made the first time it
//! claims an instance. `plan` only reads (it creates neither the id nor the marker); `apply` and
//! `run` claim an instance that has no owner yet, which is how an instance from a build without
//! markers gets one, with nothing recreated. The id is 16 bytes of the kernel's randomness,
//! read from `/dev/urandom`: nothing here needs a crate for that.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::runtime::{InstanceOwner, Runtime, RuntimeError};
use crate::spec::TenantName;

/// The file in the state directory that holds its id.
pub const STATE_ID_FILE: &str = "state-id";

/// Why a state directory may not act on an instance, or its identity cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "instance {instance} is converged by another state directory: {owner}; this one is {this}. \
         Two state directories with one instance would undo each other's work, so nothing was changed. \
         If this one should converge the instance from now on, run `tenantd take-over` with this \
         configuration; the other one then refuses to change anything"
    )]
    NotOwner { instance: TenantName, owner: InstanceOwner, this: String },
    #[error("{}: {message}", path.display())]
    Identity { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read or record the owner of instance {instance}: {source}")]
    Runtime {
        instance: TenantName,
        #[source]
        source: RuntimeError,
    },
}

/// A state directory as an owner: its id (when it has one yet), host and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateIdentity {
    pub id: Option<String>,
    pub host: String,
    pub state_dir: String,
}

impl StateIdentity {
    /// Reads the identity of `state_dir`; `id` is `None` when it has none yet.
    pub fn read(state_dir: &Path) -> Result<Self, OwnerError> {
        let path = state_dir.join(STATE_ID_FILE);
        let id = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
        {
            Ok(mut file) => {
                let mut text = String::new();
                Read::by_ref(&mut file)
                    .take(1024)
                    .read_to_string(&mut text)
                    .map_err(|source| OwnerError::Io { path: path.clone(), source })?;
                Some(parse_id(&path, &text)?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(OwnerError::Io { path, source }),
        };
        Ok(Self { id, host: host_name(), state_dir: display_path(state_dir) })
    }

    /// Like [`StateIdentity::read`], making the id when there is none yet.
    pub fn read_or_create(state_dir: &Path) -> Result<Self, OwnerError> {
        let mut identity = Self::read(state_dir)?;
        if identity.id.is_none() {
            identity.id = Some(create_id(state_dir)?);
        }
        Ok(identity)
    }

    /// As the marker records an owner; `None` without an id.
    pub fn owner(&self) -> Option<InstanceOwner> {
        Some(InstanceOwner { id: self.id.clone()?, host: self.host.clone(), state_dir: self.state_dir.clone() })
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.state_dir, self.host)
    }
}

/// `plan`: fails when another state directory owns `instance`. Changes nothing anywhere.
pub async fn check(runtime: &dyn Runtime, instance: &TenantName, state_dir: &Path) -> Result<(), OwnerError> {
    let me = StateIdentity::read(state_dir)?;
    let recorded =
        runtime.owner().await.map_err(|source| OwnerError::Runtime { instance: instance.clone(), source })?;
    match recorded {
        Some(owner) if Some(&owner.id) != me.id.as_ref() => {
            Err(OwnerError::NotOwner { instance: instance.clone(), owner, this: me.describe() })
        }
        _ => Ok(()),
    }
}

/// `apply` and `run`: records this state directory as the owner of an instance that has none,
/// and fails when another one owns it. Call it holding the state directory's lock.
pub async fn claim(runtime: &dyn Runtime, instance: &TenantName, state_dir: &Path) -> Result<(), OwnerError> {
    let me = StateIdentity::read_or_create(state_dir)?;
    let mine = me.owner().expect("an id was just read or made");
    let recorded = runtime
        .claim_owner(&mine, false)
        .await
        .map_err(|source| OwnerError::Runtime { instance: instance.clone(), source })?;
    if recorded.id != mine.id {
        return Err(OwnerError::NotOwner { instance: instance.clone(), owner: recorded, this: me.describe() });
    }
    Ok(())
}

/// `take-over`: records this state directory as the owner whoever owned the instance; returns
/// the previous owner when it was another. Call it holding the state directory's lock.
pub async fn take_over(
    runtime: &dyn Runtime,
    instance: &TenantName,
    state_dir: &Path,
) -> Result<Option<InstanceOwner>, OwnerError> {
    let me = StateIdentity::read_or_create(state_dir)?;
    let mine = me.owner().expect("an id was just read or made");
    let failed = |source| OwnerError::Runtime { instance: instance.clone(), source };
    let previous = runtime.owner().await.map_err(failed)?.filter(|o| o.id != mine.id);
    let recorded = runtime.claim_owner(&mine, true).await.map_err(failed)?;
    if recorded.id != mine.id {
        // Another state directory took it over in the same moment.
        return Err(OwnerError::NotOwner { instance: instance.clone(), owner: recorded, this: me.describe() });
    }
    Ok(previous)
}

fn parse_id(path: &Path, text: &str) -> Result<String, OwnerError> {
    let id = text.trim();
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(id.to_string())
    } else {
        Err(OwnerError::Identity {
            path: path.to_path_buf(),
            message: "is not a state directory id (32 hex digits); remove it only if this state directory \
                      should take over its instance afresh (`tenantd take-over`)"
                .into(),
        })
    }
}

/// Makes and writes a new id. The file is created exclusively: one that appeared meanwhile
/// (or a link someone put there) is never overwritten or followed.
fn create_id(state_dir: &Path) -> Result<String, OwnerError> {
    let path = state_dir.join(STATE_ID_FILE);
    let io = |source| OwnerError::Io { path: path.clone(), source };
    std::fs::create_dir_all(state_dir).map_err(|source| OwnerError::Io { path: state_dir.to_path_buf(), source })?;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| OwnerError::Io { path: "/dev/urandom".into(), source })?;
    let id = hex::encode(bytes);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(&path).map_err(io)?;
    file.write_all(format!("{id}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    Ok(id)
}

/// The host's name as it names itself, for messages.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "(unknown host)".into())
}

/// The state directory's absolute path when it can be had, for messages.
fn display_path(state_dir: &Path) -> String {
    std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf()).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fake::{Call, FakeRuntime};

    fn instance() -> TenantName {
        "prod".parse().unwrap()
    }

    #[tokio::test]
    async fn the_first_state_directory_claims_and_a_second_is_refused_until_it_takes_over() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let fake = FakeRuntime::new();

        // Reading creates nothing: no id, no marker.
        check(&fake, &instance(), a.path()).await.unwrap();
        assert!(!a.path().join(STATE_ID_FILE).exists());
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());

        claim(&fake, &instance(), a.path()).await.unwrap();
        let id_a = StateIdentity::read(a.path()).unwrap().id.unwrap();
        assert_eq!(fake.calls(), [Call::RecordOwner(id_a.clone())]);
        // Claiming again changes nothing.
        claim(&fake, &instance(), a.path()).await.unwrap();
        check(&fake, &instance(), a.path()).await.unwrap();
        assert_eq!(fake.calls().len(), 1);

        for refused in [check(&fake, &instance(), b.path()).await, claim(&fake, &instance(), b.path()).await] {
            let e = refused.unwrap_err();
            assert!(matches!(e, OwnerError::NotOwner { ref owner, .. } if owner.id == id_a), "{e}");
            let text = e.to_string();
            assert!(text.contains(&display_path(a.path())) && text.contains("tenantd take-over"), "{text}");
        }
        assert_eq!(fake.recorded_owner().unwrap().id, id_a);

        let previous = take_over(&fake, &instance(), b.path()).await.unwrap();
        assert_eq!(previous.map(|p| p.id), Some(id_a));
        claim(&fake, &instance(), b.path()).await.unwrap();
        assert!(matches!(claim(&fake, &instance(), a.path()).await, Err(OwnerError::NotOwner { .. })));
    }

    #[test]
    fn a_damaged_id_is_an_error_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_ID_FILE), "not an id\n").unwrap();
        for e in [StateIdentity::read(dir.path()).unwrap_err(), StateIdentity::read_or_create(dir.path()).unwrap_err()]
        {
            assert!(e.to_string().contains("is not a state directory id"), "{e}");
        }
        assert_eq!(std::fs::read_to_string(dir.path().join(STATE_ID_FILE)).unwrap(), "not an id\n");
        // A link in its place is not followed.
        std::fs::remove_file(dir.path().join(STATE_ID_FILE)).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join(STATE_ID_FILE)).unwrap();
        assert!(matches!(StateIdentity::read(dir.path()), Err(OwnerError::Io { .. })));
        assert!(matches!(StateIdentity::read_or_create(dir.path()), Err(OwnerError::Io { .. })));
    }
}
