//! `tenantd status [TENANT]`: reads the status files.

use super::style::{health_style, phase_style, stdout_colour};
use super::table::{Cell, Table};
use super::ListOutput;
use crate::config::DaemonConfig;
use crate::status::{StatusStore, TenantStatus};

pub fn run(cfg: &DaemonConfig, tenant: Option<&str>, output: ListOutput) -> anyhow::Result<u8> {
    let store = StatusStore::new(cfg.status_dir());
    let mut all = store.read_all()?;
    if let Some(t) = tenant {
        all.retain(|name, _| name.as_str() == t);
        if all.is_empty() {
            anyhow::bail!("no status for tenant {t:?} in {}", store.dir().display());
        }
    }
    let list: Vec<&TenantStatus> = all.values().collect();
    let text = match output {
        // One tenant asked for: its status alone, not a list of one.
        ListOutput::Json if tenant.is_some() => serde_json::to_string_pretty(list[0])? + "\n",
        ListOutput::Json => serde_json::to_string_pretty(&list)? + "\n",
        ListOutput::Yaml if tenant.is_some() => serde_yaml::to_string(list[0])?,
        ListOutput::Yaml => serde_yaml::to_string(&list)?,
        ListOutput::Table => table(&list).render(stdout_colour()),
    };
    print!("{text}");
    Ok(0)
}

fn table(list: &[&TenantStatus]) -> Table {
    let mut t = Table::new(&[
        ("TENANT", false),
        ("PHASE", false),
        ("HEALTH", false),
        ("URL", false),
        ("RESTARTS", true),
        ("LAST ERROR", false),
    ]);
    for s in list {
        let mut err = s.last_error.clone().unwrap_or_default();
        if err.chars().count() > 80 {
            err = err.chars().take(77).collect::<String>() + "...";
        }
        t.row(vec![
            s.tenant.clone().into(),
            Cell::styled(format!("{:?}", s.phase), phase_style(s.phase)),
            Cell::styled(format!("{:?}", s.health).to_lowercase(), health_style(s.health)),
            s.url.as_deref().unwrap_or("-").into(),
            s.restart_count.to_string().into(),
            err.into(),
        ]);
    }
    t
}
