//! `tenantd status [TENANT]`: reads the status files. A file that holds no status (corrupt, or
//! something other than a regular file) is listed with why, and the command exits 1.

use serde::Serialize;

use super::style::{health_style, phase_style, stdout_colour, RED};
use super::table::{Cell, Table};
use super::ListOutput;
use crate::config::DaemonConfig;
use crate::status::{StatusStore, TenantStatus};

/// One tenant as `status` shows it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Entry<'a> {
    Status(&'a TenantStatus),
    /// Its status file holds no status; the next pass writes it anew.
    Unreadable {
        tenant: &'a str,
        error: &'a str,
    },
}

pub fn run(cfg: &DaemonConfig, tenant: Option<&str>, output: ListOutput) -> anyhow::Result<u8> {
    let store = StatusStore::new(cfg.status_dir());
    let mut listing = store.list()?;
    if let Some(t) = tenant {
        listing.statuses.retain(|name, _| name.as_str() == t);
        listing.unreadable.retain(|name, _| name.as_str() == t);
        if listing.statuses.is_empty() && listing.unreadable.is_empty() {
            anyhow::bail!("no status for tenant {t:?} in {}", store.dir().display());
        }
    }
    let mut list: Vec<(&str, Entry<'_>)> =
        listing.statuses.iter().map(|(name, s)| (name.as_str(), Entry::Status(s))).collect();
    list.extend(
        listing
            .unreadable
            .iter()
            .map(|(name, e)| (name.as_str(), Entry::Unreadable { tenant: name.as_str(), error: e })),
    );
    list.sort_by(|a, b| a.0.cmp(b.0));
    let list: Vec<Entry<'_>> = list.into_iter().map(|(_, e)| e).collect();
    print!("{}", render(&list, tenant.is_some(), output, stdout_colour())?);
    for (name, error) in &listing.unreadable {
        eprintln!("error: the status of {name} cannot be read ({error}); the next pass writes it anew");
    }
    Ok(u8::from(!listing.unreadable.is_empty()))
}

/// The text `status` prints. `single`: one tenant was asked for, so JSON and YAML show its
/// status alone rather than a list of one.
fn render(list: &[Entry<'_>], single: bool, output: ListOutput, colour: bool) -> anyhow::Result<String> {
    Ok(match (output, list.first()) {
        (ListOutput::Json, Some(one)) if single => serde_json::to_string_pretty(one)? + "\n",
        (ListOutput::Json, _) => serde_json::to_string_pretty(list)? + "\n",
        (ListOutput::Yaml, Some(one)) if single => serde_yaml::to_string(one)?,
        (ListOutput::Yaml, _) => serde_yaml::to_string(list)?,
        (ListOutput::Table, _) => table(list).render(colour) + &engine_line(list),
    })
}

/// The daemon records the engine it runs tenants on; one line under the table says which.
fn engine_line(list: &[Entry<'_>]) -> String {
    list.iter()
        .find_map(|e| match e {
            Entry::Status(s) => s.engine.as_ref(),
            Entry::Unreadable { .. } => None,
        })
        .map(|engine| format!("engine: {engine}\n"))
        .unwrap_or_default()
}

fn table(list: &[Entry<'_>]) -> Table {
    let mut t = Table::new(&[
        ("TENANT", false),
        ("PHASE", false),
        ("HEALTH", false),
        ("URL", false),
        ("RESTARTS", true),
        ("LAST ERROR", false),
    ]);
    for entry in list {
        let s = match entry {
            Entry::Status(s) => s,
            Entry::Unreadable { tenant, error } => {
                // Shown whole: it is what the operator has to act on.
                t.row(vec![
                    (*tenant).into(),
                    Cell::styled("Unreadable", RED),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    (*error).into(),
                ]);
                continue;
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Health, Phase};

    fn status(tenant: &str, phase: Phase, health: Health, error: Option<&str>) -> TenantStatus {
        let json = serde_json::json!({
            "tenant": tenant, "phase": phase, "conditions": [], "health": health, "restartCount": 2,
            "url": "http://127.0.0.1:20001", "lastError": error,
        });
        serde_json::from_value(json).expect("a status")
    }

    #[test]
    fn table_json_and_yaml_show_the_same_statuses() {
        let long = "x".repeat(100);
        let (a, b) = (
            status("acme", Phase::Running, Health::Healthy, None),
            status("beta", Phase::Failed, Health::Down, Some(&long)),
        );
        let list = [Entry::Status(&a), Entry::Status(&b)];
        let table = render(&list, false, ListOutput::Table, false).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "TENANT  PHASE    HEALTH   URL                     RESTARTS  LAST ERROR");
        assert_eq!(lines[1], "acme    Running  healthy  http://127.0.0.1:20001         2");
        assert!(lines[2].starts_with("beta    Failed   down") && lines[2].ends_with(&format!("{}...", "x".repeat(77))));
        let coloured = render(&list, false, ListOutput::Table, true).unwrap();
        assert!(coloured.contains("\u{1b}[32mRunning\u{1b}[0m") && coloured.contains("\u{1b}[31mFailed\u{1b}[0m"));

        let json: serde_json::Value =
            serde_json::from_str(&render(&list, false, ListOutput::Json, false).unwrap()).unwrap();
        assert_eq!(json, serde_json::to_value([&a, &b]).unwrap());
        let yaml: serde_json::Value =
            serde_yaml::from_str(&render(&list, false, ListOutput::Yaml, false).unwrap()).unwrap();
        assert_eq!(yaml, json);

        // One tenant asked for: the object itself, exactly as the status file's JSON.
        let one = render(&[Entry::Status(&a)], true, ListOutput::Json, false).unwrap();
        assert_eq!(one, serde_json::to_string_pretty(&a).unwrap() + "\n");
        let one: serde_json::Value =
            serde_yaml::from_str(&render(&[Entry::Status(&a)], true, ListOutput::Yaml, false).unwrap()).unwrap();
        assert_eq!(one["tenant"], "acme");
    }
}
