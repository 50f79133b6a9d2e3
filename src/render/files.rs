//! The files tenantd writes for a tenant's runtime: the generated config and the secrets, and
//! where the main container sees them. Pure: the files are described here and written by the
//! executor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::openclaw::{render_config, render_pretty};
use crate::spec::{AgeArmored, ReloadPolicy, SecretName, TenantName, TenantSpec, RUNTIME_SECRETS_DIR};

pub use crate::spec::RUNTIME_CONFIG_DIR;
/// The generated config's file name, on the host and in the container.
pub const CONFIG_FILE: &str = "openclaw.json";
/// The environment variable that tells the runtime where its config is.
pub const CONFIG_PATH_ENV: &str = "OPENCLAW_CONFIG_PATH";

/// A hash per runtime file, keyed `openclaw.json` or `secret/<NAME>`.
pub type FileHashes = BTreeMap<String, String>;

/// The host directories whose per-tenant subdirectories are bind-mounted into runtimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRoots {
    /// `<config>/<tenant>/openclaw.json`.
    pub config: PathBuf,
    /// `<secrets>/<tenant>/<NAME>`, on tmpfs.
    pub secrets: PathBuf,
    /// `<ingress>/<tenant>/`: what a tenant's ingress forwards to, and its report.
    pub ingress: PathBuf,
}

/// A read-only bind mount of a host directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindPlan {
    pub source: String,
    pub target: String,
    /// Writable by the container (the ingress's report); runtime files are read-only. Only
    /// writable binds carry the field, so others hash as they did before it existed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub writable: bool,
}

/// What a tenant's runtime files should be. `Debug` shows no secret (ciphertext prints as
/// `(sensitive)`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenClawFiles {
    /// The generated config, as written.
    pub config: Option<String>,
    pub secrets: BTreeMap<SecretName, AgeArmored>,
    /// The container's numeric `uid:gid`, which owns the secret files; `None` when the spec
    /// names its user by name (the secrets cannot then be delivered).
    pub owner: Option<(u32, u32)>,
    pub reload: ReloadPolicy,
    /// A hash per file (`openclaw.json`, `secret/<NAME>`): of the content for the config, of the
    /// ciphertext for a secret. Compared with what was delivered last.
    pub hashes: FileHashes,
    pub config_dir: PathBuf,
    pub secrets_dir: PathBuf,
}

impl OpenClawFiles {
    /// The files of a spec with a runtime config or secrets; `None` without either.
    pub fn of(tenant: &TenantName, spec: &TenantSpec, user: &str, roots: &FileRoots) -> Option<Self> {
        let config = render_config(spec).map(|c| render_pretty(&c));
        if config.is_none() && spec.secrets.is_empty() {
            return None;
        }
        let secrets: BTreeMap<SecretName, AgeArmored> =
            spec.secrets.iter().map(|(name, s)| (name.clone(), s.value.clone())).collect();
        let mut hashes = BTreeMap::new();
        if let Some(text) = &config {
            hashes.insert(CONFIG_FILE.to_string(), super::versioned_hash(&text.as_str()));
        }
        for (name, value) in &secrets {
            hashes.insert(secret_key(name), super::versioned_hash(&value.expose()));
        }
        Some(Self {
            config,
            secrets,
            owner: numeric_owner(user),
            reload: spec.reload,
            hashes,
            config_dir: roots.config.join(tenant.as_str()),
            secrets_dir: roots.secrets.join(tenant.as_str()),
        })
    }

    /// The main container's bind mounts for these files.
    pub fn binds(&self) -> Vec<BindPlan> {
        let mut binds = Vec::new();
        if self.config.is_some() {
            binds.push(bind(&self.config_dir, RUNTIME_CONFIG_DIR));
        }
        if !self.secrets.is_empty() {
            binds.push(bind(&self.secrets_dir, RUNTIME_SECRETS_DIR));
        }
        binds
    }

    /// One hash over every file, for the tenant's spec hash.
    pub fn hash(&self) -> String {
        super::versioned_hash(&self.hashes)
    }
}

/// The key of a secret in [`OpenClawFiles::hashes`].
pub fn secret_key(name: &SecretName) -> String {
    format!("secret/{name}")
}

fn bind(source: &Path, target: &str) -> BindPlan {
    BindPlan { source: source.display().to_string(), target: target.to_string(), writable: false }
}

/// `uid` or `uid:gid` (gid defaults to uid); `None` for a user given by name.
pub fn numeric_owner(user: &str) -> Option<(u32, u32)> {
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_numeric_or_unknown() {
        assert_eq!(numeric_owner("10001:10001"), Some((10001, 10001)));
        assert_eq!(numeric_owner("1000"), Some((1000, 1000)));
        assert_eq!(numeric_owner("node"), None);
        assert_eq!(numeric_owner("1000:staff"), None);
    }
}
