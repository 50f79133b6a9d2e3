//! Secrets that cannot be opened make their spec invalid: the tenant keeps running as it is and
//! its status says which secret and why, before anything is planned for it.

use std::collections::BTreeMap;

use super::prepare::Desired;
use crate::config::DaemonConfig;
use crate::secrets::Identities;
use crate::spec::{error_at, InvalidSpec, TenantName};

impl Desired {
    /// Tries every tenant's secrets with the configured identity (in memory; the plaintext is
    /// dropped at once) and moves tenants with one that does not decrypt to the invalid ones.
    /// Without a readable identity nothing is checked here: `plan` needs no key, and delivery
    /// reports the missing key for the tenants that need one.
    pub fn check_secrets(&mut self, cfg: &DaemonConfig) {
        let Some(ids) = cfg.secrets.identity_file.as_deref().and_then(|p| Identities::load(p).ok()) else { return };
        let mut failed: BTreeMap<TenantName, InvalidSpec> = BTreeMap::new();
        for (name, tenant) in &self.tenants {
            let Some(files) = &tenant.files else { continue };
            let path = self.sources.get(name).cloned().unwrap_or_default();
            for (secret, value) in &files.secrets {
                if let Err(e) = ids.decrypt(value) {
                    let pointer = format!("/spec/secrets/{secret}/value");
                    let error = error_at(&path, &pointer, format!("secret {secret} cannot be decrypted: {e}"));
                    let entry = failed.entry(name.clone()).or_insert_with(|| InvalidSpec {
                        path: path.clone(),
                        tenant: Some(name.clone()),
                        errors: vec![],
                    });
                    entry.errors.push(error);
                }
            }
        }
        for (name, invalid) in failed {
            self.tenants.remove(&name);
            self.sources.remove(&name);
            self.invalid.insert(name, invalid.errors.iter().map(|e| e.to_string()).collect());
            self.invalid_files.push(invalid);
        }
    }
}
