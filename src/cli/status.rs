//! `tenantd status [TENANT]`: reads the status files.

use super::ListOutput;
use crate::config::DaemonConfig;
use crate::status::StatusStore;

pub fn run(cfg: &DaemonConfig, tenant: Option<&str>, output: ListOutput) -> anyhow::Result<u8> {
    let store = StatusStore::new(cfg.status_dir());
    let mut all = store.read_all()?;
    if let Some(t) = tenant {
        all.retain(|name, _| name.as_str() == t);
        if all.is_empty() {
            anyhow::bail!("no status for tenant {t:?} in {}", store.dir().display());
        }
    }
    match output {
        ListOutput::Json | ListOutput::Yaml => {
            let list: Vec<_> = all.values().collect();
            let text = if tenant.is_some() {
                serde_json::to_string_pretty(list[0])?
            } else {
                serde_json::to_string_pretty(&list)?
            };
            println!("{text}");
        }
        ListOutput::Table => {
            println!("{:<24} {:<16} {:<10} {:<24} {:>8}  LAST ERROR", "TENANT", "PHASE", "HEALTH", "URL", "RESTARTS");
            for s in all.values() {
                let mut err = s.last_error.clone().unwrap_or_default();
                if err.chars().count() > 80 {
                    err = err.chars().take(77).collect::<String>() + "...";
                }
                println!(
                    "{:<24} {:<16} {:<10} {:<24} {:>8}  {}",
                    s.tenant,
                    format!("{:?}", s.phase),
                    format!("{:?}", s.health).to_lowercase(),
                    s.url.as_deref().unwrap_or("-"),
                    s.restart_count,
                    err
                );
            }
            // The daemon records the engine it runs tenants on; one line says which.
            if let Some(engine) = all.values().find_map(|s| s.engine.as_ref()) {
                println!("engine: {engine}");
            }
        }
    }
    Ok(0)
}
