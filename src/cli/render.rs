//! `tenantd render TENANT [--dir DIR]`: prints the runtime config (`openclaw.json`) tenantd
//! generates for one tenant. Secrets appear only as `${secret:<name>}` placeholders; nothing is
//! decrypted or written.

use std::path::Path;

use anyhow::{anyhow, bail};

use crate::render::openclaw::{render_config, render_pretty};
use crate::spec::{load_dir, TenantName};

/// Prints the config on stdout and exits 0; problems go to stderr with exit 1: an unknown or
/// invalid tenant, or one without `spec.runtimeConfig`.
pub fn run(config: &Path, tenant: &str, dir: Option<&Path>) -> anyhow::Result<u8> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => super::load_config(config)?.tenants_dir,
    };
    let name: TenantName = tenant.parse().map_err(|e| anyhow!("{e}"))?;
    let set = load_dir(&dir)?;
    if let Some(spec) = set.valid.get(&name) {
        let Some(generated) = render_config(&spec.file.spec) else {
            bail!(
                "tenant {name} ({}) has no spec.runtimeConfig, so tenantd generates no runtime config for it",
                spec.path.display()
            );
        };
        print!("{}", render_pretty(&generated));
        return Ok(0);
    }
    if let Some(invalid) = set.invalid.iter().find(|i| i.tenant.as_ref() == Some(&name)) {
        for e in &invalid.errors {
            eprintln!("{e}");
        }
        bail!("tenant {name} ({}) is invalid; fix the problems above", invalid.path.display());
    }
    bail!("no tenant named {name} in {}", dir.display())
}
