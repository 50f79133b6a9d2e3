//! `tenantd status [TENANT]`: reads the status files. A file that holds no status (corrupt, or
//! something other than a regular file) is listed with why, and the command exits 1. Each
//! status shows its age; when no tenantd process holds the state lock, nothing keeps the files
//! up to date, and `status` says so (stderr, and under the table). With no status at all, a hint
//! on stderr says where it looked and what writes status; the exit code stays 0.

use serde::Serialize;
use time::OffsetDateTime;

use super::liveness::{state_lock, Liveness};
use super::style::{health_style, phase_style, stdout_colour, RED};
use super::table::{Cell, Table};
use super::OutputFormat;
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

pub fn run(cfg: &DaemonConfig, tenant: Option<&str>, output: OutputFormat) -> anyhow::Result<u8> {
    let store = StatusStore::new(cfg.status_dir());
    let mut listing = store.list()?;
    if let Some(t) = tenant {
        let known: Vec<String> =
            listing.statuses.keys().chain(listing.unreadable.keys()).map(|n| n.to_string()).collect();
        listing.statuses.retain(|name, _| name.as_str() == t);
        listing.unreadable.retain(|name, _| name.as_str() == t);
        if listing.statuses.is_empty() && listing.unreadable.is_empty() {
            let hint = match crate::suggest::closest(t, &known) {
                Some(close) => format!("; did you mean {close:?}?"),
                None => String::new(),
            };
            anyhow::bail!("no status for tenant {t:?} in {}{hint}", store.dir().display());
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
    let liveness = state_lock(&cfg.state_dir);
    let seen = Seen { now: OffsetDateTime::now_utc(), liveness: &liveness };
    print!("{}", render(&list, tenant.is_some(), output, stdout_colour(), &seen)?);
    for (name, error) in &listing.unreadable {
        eprintln!("error: the status of {name} cannot be read ({error}); the next pass writes it anew");
    }
    if let Some(warning) = stale_warning(&liveness).filter(|_| !list.is_empty()) {
        eprintln!("warning: {warning}");
    }
    if list.is_empty() {
        // Not an error (a fresh install has no status yet), but an empty table alone does not
        // say whether tenantd looked in the right place.
        eprintln!(
            "hint: no tenant has a status yet: {} holds no status file. `tenantd apply` writes one for each tenant \
             in {}, and so does the daemon (`tenantd run`) as it reconciles them",
            store.dir().display(),
            cfg.tenants_dir.display()
        );
    }
    Ok(super::exit::failure_if(!listing.unreadable.is_empty()))
}

/// When and in what state of the state lock the statuses are looked at.
struct Seen<'a> {
    now: OffsetDateTime,
    liveness: &'a Liveness,
}

/// The text `status` prints. `single`: one tenant was asked for, so JSON and YAML show its
/// status alone rather than a list of one (exactly the status file's content, `lastUpdateTime`
/// included: the age is computed from it).
fn render(
    list: &[Entry<'_>],
    single: bool,
    output: OutputFormat,
    colour: bool,
    seen: &Seen<'_>,
) -> anyhow::Result<String> {
    Ok(match (output, list.first()) {
        (OutputFormat::Json, Some(one)) if single => serde_json::to_string_pretty(one)? + "\n",
        (OutputFormat::Json, _) => serde_json::to_string_pretty(list)? + "\n",
        (OutputFormat::Yaml, Some(one)) if single => serde_yaml::to_string(one)?,
        (OutputFormat::Yaml, _) => serde_yaml::to_string(list)?,
        (OutputFormat::Table, _) => {
            let footer = stale_warning(seen.liveness).filter(|_| !list.is_empty()).map(|w| w + "\n");
            table(list, seen.now).render(colour) + &engine_line(list) + &footer.unwrap_or_default()
        }
    })
}

/// What to say when no process is seen keeping the statuses up to date.
fn stale_warning(liveness: &Liveness) -> Option<String> {
    match liveness {
        Liveness::Held => None,
        Liveness::Free { lock } => Some(format!(
            "no tenantd daemon is running (nothing holds {}): these statuses may be stale, each as old as its AGE; \
             run `tenantd plan` to see what differs",
            lock.display()
        )),
        Liveness::Unknown { lock, why } => Some(format!(
            "cannot tell whether a tenantd daemon is running ({}: {why}): these statuses may be stale; \
             run `tenantd plan` to see what differs",
            lock.display()
        )),
    }
}

/// How long ago the status last changed: its `lastUpdateTime`, or for a file of an earlier
/// version its latest condition transition.
fn age(s: &TenantStatus, now: OffsetDateTime) -> Option<time::Duration> {
    let changed = s.last_update_time.or_else(|| s.conditions.iter().map(|c| c.last_transition_time).max())?;
    Some((now - changed).max(time::Duration::ZERO))
}

/// A duration as `kubectl` shows ages: `45s`, `12m`, `5h`, `3d`.
fn short_duration(d: time::Duration) -> String {
    let secs = d.whole_seconds();
    if secs < 120 {
        format!("{secs}s")
    } else if secs < 7_200 {
        format!("{}m", secs / 60)
    } else if secs < 172_800 {
        format!("{}h", secs / 3_600)
    } else {
        format!("{}d", secs / 86_400)
    }
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

fn table(list: &[Entry<'_>], now: OffsetDateTime) -> Table {
    let mut t = Table::new(&[
        ("TENANT", false),
        ("PHASE", false),
        ("HEALTH", false),
        ("AGE", false),
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
            age(s, now).map_or("-".into(), short_duration).into(),
            s.url.as_deref().unwrap_or("-").into(),
            s.restart_count.to_string().into(),
            err.into(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use time::macros::datetime;

    use super::*;
    use crate::status::{Health, Phase};

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn status(tenant: &str, phase: Phase, health: Health, error: Option<&str>) -> TenantStatus {
        let json = serde_json::json!({
            "tenant": tenant, "phase": phase, "conditions": [], "health": health, "restartCount": 2,
            "url": "http://127.0.0.1:20001", "lastError": error, "lastUpdateTime": "2026-03-01T11:57:00Z",
        });
        serde_json::from_value(json).expect("a status")
    }

    fn live() -> Seen<'static> {
        Seen { now: NOW, liveness: &Liveness::Held }
    }

    #[test]
    fn table_json_and_yaml_show_the_same_statuses() {
        let long = "x".repeat(100);
        let (a, b) = (
            status("acme", Phase::Running, Health::Healthy, None),
            status("beta", Phase::Failed, Health::Down, Some(&long)),
        );
        let list = [Entry::Status(&a), Entry::Status(&b)];
        let table = render(&list, false, OutputFormat::Table, false, &live()).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "TENANT  PHASE    HEALTH   AGE  URL                     RESTARTS  LAST ERROR");
        assert_eq!(lines[1], "acme    Running  healthy  3m   http://127.0.0.1:20001         2");
        assert!(lines[2].starts_with("beta    Failed   down") && lines[2].ends_with(&format!("{}...", "x".repeat(77))));
        assert_eq!(lines.len(), 3, "a daemon holds the lock: no warning");
        let coloured = render(&list, false, OutputFormat::Table, true, &live()).unwrap();
        assert!(coloured.contains("\u{1b}[32mRunning\u{1b}[0m") && coloured.contains("\u{1b}[31mFailed\u{1b}[0m"));

        let json: serde_json::Value =
            serde_json::from_str(&render(&list, false, OutputFormat::Json, false, &live()).unwrap()).unwrap();
        assert_eq!(json, serde_json::to_value([&a, &b]).unwrap());
        assert_eq!(json[0]["lastUpdateTime"], "2026-03-01T11:57:00Z");
        let yaml: serde_json::Value =
            serde_yaml::from_str(&render(&list, false, OutputFormat::Yaml, false, &live()).unwrap()).unwrap();
        assert_eq!(yaml, json);

        // One tenant asked for: the object itself, exactly as the status file's JSON.
        let one = render(&[Entry::Status(&a)], true, OutputFormat::Json, false, &live()).unwrap();
        assert_eq!(one, serde_json::to_string_pretty(&a).unwrap() + "\n");
        let one: serde_json::Value =
            serde_yaml::from_str(&render(&[Entry::Status(&a)], true, OutputFormat::Yaml, false, &live()).unwrap())
                .unwrap();
        assert_eq!(one["tenant"], "acme");
    }

    #[test]
    fn with_no_daemon_the_table_ends_with_a_warning_that_the_statuses_may_be_stale() {
        let a = status("acme", Phase::Running, Health::Healthy, None);
        let free = Liveness::Free { lock: PathBuf::from("/var/lib/tenantd/tenantd.lock") };
        let table =
            render(&[Entry::Status(&a)], false, OutputFormat::Table, false, &Seen { now: NOW, liveness: &free })
                .unwrap();
        let last = table.lines().last().unwrap();
        assert!(
            last.contains("no tenantd daemon is running") && last.contains("/var/lib/tenantd/tenantd.lock"),
            "{table}"
        );
        assert!(last.contains("may be stale") && last.contains("tenantd plan"), "{table}");
        // JSON stays the statuses alone; the warning goes to stderr.
        let json = render(&[Entry::Status(&a)], false, OutputFormat::Json, false, &Seen { now: NOW, liveness: &free });
        assert!(!json.unwrap().contains("stale"));
    }

    #[test]
    fn ages_read_like_kubectl_and_an_older_file_falls_back_to_its_conditions() {
        let ages: Vec<String> = [0, 59, 119, 120, 7_199, 7_200, 172_799, 172_800]
            .map(|s| short_duration(time::Duration::seconds(s)))
            .into();
        assert_eq!(ages, ["0s", "59s", "119s", "2m", "119m", "2h", "47h", "2d"]);
        let old = serde_json::json!({
            "tenant": "acme", "phase": "Running", "health": "healthy", "restartCount": 0, "conditions": [
                {"type": "SpecValid", "status": true, "reason": "Valid", "message": "", "lastTransitionTime": "2026-03-01T10:00:00Z"},
                {"type": "Healthy", "status": true, "reason": "Healthy", "message": "", "lastTransitionTime": "2026-03-01T11:00:00Z"},
            ],
        });
        let old: TenantStatus = serde_json::from_value(old).unwrap();
        assert_eq!(age(&old, NOW), Some(time::Duration::hours(1)));
        // A clock that went back shows no negative age.
        assert_eq!(
            age(&status("a", Phase::Running, Health::Healthy, None), datetime!(2026-03-01 11:00 UTC)),
            Some(time::Duration::ZERO)
        );
    }
}
