//! `tenantd render TENANT [--dir DIR]`: prints the runtime config (`openclaw.json`) tenantd
//! generates for one tenant. Secrets appear only as `${secret:<name>}` placeholders; nothing is
//! decrypted or written. `--runtime kubernetes` prints a tenant's Kubernetes manifests instead.

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
    let known: Vec<&str> = set
        .valid
        .keys()
        .map(TenantName::as_str)
        .chain(set.invalid.iter().filter_map(|i| i.tenant.as_ref().map(TenantName::as_str)))
        .collect();
    bail!("no tenant named {name} in {}{}", dir.display(), did_you_mean(name.as_str(), &known))
}

/// Prints the Kubernetes manifests of `tenant` (every valid tenant when `None`) as one YAML
/// stream: exactly what the Kubernetes runtime applies, but for the values of secrets. Without
/// a readable config (with `--dir`), the default instance name and cluster settings are used.
pub fn run_kubernetes(config: &Path, tenant: Option<&str>, dir: Option<&Path>) -> anyhow::Result<u8> {
    use crate::config::{DaemonConfig, RuntimeKind};
    use crate::reconcile::{Desired, PassOptions};
    use crate::render::kubernetes::to_yaml;

    let mut cfg = match (super::load_config(config), dir) {
        (Ok(cfg), _) => cfg,
        (Err(_), Some(d)) => DaemonConfig::parse(
            &format!("tenants_dir = {:?}\nstate_dir = \"/var/lib/tenantd\"\n", d),
            Path::new("/etc/tenantd/tenantd.toml"),
            None,
        )?,
        (Err(e), None) => return Err(e),
    };
    if let Some(d) = dir {
        cfg.tenants_dir = d.to_path_buf();
    }
    cfg.runtime = RuntimeKind::Kubernetes;
    // No key is read: manifests carry the secrets' names, never their values.
    cfg.secrets.identity_file = None;
    let desired = Desired::load(&cfg, PassOptions::default())?;
    let names: Vec<TenantName> = match tenant {
        Some(t) => {
            let name: TenantName = t.parse().map_err(|e| anyhow!("{e}"))?;
            if let Some(messages) = desired.invalid.get(&name) {
                for m in messages {
                    eprintln!("{m}");
                }
                bail!("tenant {name} is invalid; fix the problems above");
            }
            if !desired.tenants.contains_key(&name) {
                let known: Vec<&str> = desired.tenants.keys().map(TenantName::as_str).collect();
                bail!("no tenant named {name} in {}{}", cfg.tenants_dir.display(), did_you_mean(name.as_str(), &known));
            }
            vec![name]
        }
        None => desired.tenants.keys().cloned().collect(),
    };
    for name in names {
        let objects = desired.tenants[&name].cluster.as_deref().unwrap_or_default();
        print!("{}", to_yaml(objects));
    }
    Ok(0)
}

/// `; did you mean "acme"?` when a known tenant is close to `name`.
fn did_you_mean(name: &str, known: &[&str]) -> String {
    crate::suggest::closest(name, known).map(|c| format!("; did you mean {c:?}?")).unwrap_or_default()
}
