//! What `tenantd stats` shows per tenant, computed from container samples, and its table,
//! JSON and YAML forms. No I/O here.

use serde::Serialize;

use super::style::{DIM, RED, YELLOW};
use super::table::{Cell, Table};
use crate::runtime::{ContainerUsage, ResourceSample};

/// One container's samples: the one before (if any) and the one now (`None`: the engine gave
/// none, e.g. a runtime without a metrics source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerSamples {
    pub before: Option<ResourceSample>,
    pub now: Option<ResourceSample>,
}

/// A tenant's resource use: the sum over its running containers (runtime and sidecars). A
/// field is `None` when no container reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantUsage {
    pub tenant: String,
    /// Running containers.
    pub containers: usize,
    /// Percent of one host core, as `docker stats` shows it (up to cores × 100).
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub memory_percent: Option<f64>,
    pub network_rx_bytes: Option<u64>,
    pub network_tx_bytes: Option<u64>,
}

/// Sums what the samples of one tenant's running containers say.
pub fn tenant_usage(tenant: &str, containers: &[ContainerSamples]) -> TenantUsage {
    let now: Vec<&ResourceSample> = containers.iter().filter_map(|c| c.now.as_ref()).collect();
    let sum = |f: fn(&ResourceSample) -> Option<u64>| -> Option<u64> {
        now.iter().filter_map(|s| f(s)).reduce(u64::saturating_add)
    };
    let cpu_percent =
        containers.iter().filter_map(|c| c.now.as_ref()?.cpu_percent_since(c.before.as_ref()?)).reduce(|a, b| a + b);
    let memory_bytes = sum(|s| Some(s.memory_bytes));
    let memory_limit_bytes = sum(|s| Some(s.memory_limit_bytes));
    let memory_percent = match (memory_bytes, memory_limit_bytes) {
        (Some(used), Some(limit)) if limit > 0 => Some(used as f64 / limit as f64 * 100.0),
        _ => None,
    };
    TenantUsage {
        tenant: tenant.to_string(),
        containers: containers.len(),
        cpu_percent,
        memory_bytes,
        memory_limit_bytes,
        memory_percent,
        network_rx_bytes: sum(|s| s.network_rx_bytes),
        network_tx_bytes: sum(|s| s.network_tx_bytes),
    }
}

/// A tenant's use from a cluster's metrics API: each running container's rate (`None` while
/// the API has no sample of its pod yet) and memory limit (0: none). The API's
/// CPU is already a rate, so no sample before is needed; it says nothing of network traffic,
/// which stays unknown.
pub fn tenant_rates(tenant: &str, running: &[(Option<&ContainerUsage>, u64)]) -> TenantUsage {
    let usage: Vec<&ContainerUsage> = running.iter().filter_map(|(u, _)| *u).collect();
    let known = !usage.is_empty();
    let memory_bytes = known.then(|| usage.iter().map(|u| u.memory_bytes).fold(0u64, u64::saturating_add));
    let memory_limit_bytes = known.then(|| running.iter().map(|(_, limit)| *limit).fold(0u64, u64::saturating_add));
    let memory_percent = match (memory_bytes, memory_limit_bytes) {
        (Some(used), Some(limit)) if limit > 0 => Some(used as f64 / limit as f64 * 100.0),
        _ => None,
    };
    TenantUsage {
        tenant: tenant.to_string(),
        containers: running.len(),
        // Billionths of a core as percent of one core, as `docker stats` counts.
        cpu_percent: known.then(|| usage.iter().map(|u| u.cpu_nanocores as f64).sum::<f64>() / 1e7),
        memory_bytes,
        memory_limit_bytes,
        memory_percent,
        network_rx_bytes: None,
        network_tx_bytes: None,
    }
}

/// The table `tenantd stats` prints.
pub fn table(usage: &[TenantUsage]) -> Table {
    let mut t = Table::new(&[
        ("TENANT", false),
        ("CONTAINERS", true),
        ("CPU %", true),
        ("MEM USAGE / LIMIT", true),
        ("MEM %", true),
        ("NET I/O (RX / TX)", true),
    ]);
    for u in usage {
        let name_style = if u.containers == 0 { DIM } else { anstyle::Style::new() };
        let mem_style = match u.memory_percent {
            Some(p) if p >= 90.0 => RED,
            Some(p) if p >= 75.0 => YELLOW,
            _ => anstyle::Style::new(),
        };
        t.row(vec![
            Cell::styled(u.tenant.clone(), name_style),
            u.containers.to_string().into(),
            percent(u.cpu_percent).into(),
            format!("{} / {}", binary(u.memory_bytes), binary(u.memory_limit_bytes)).into(),
            Cell::styled(percent(u.memory_percent), mem_style),
            format!("{} / {}", decimal(u.network_rx_bytes), decimal(u.network_tx_bytes)).into(),
        ]);
    }
    t
}

/// The JSON of one sample of every tenant: a list, pretty for one shot, one line per sample
/// when streaming (so each line parses on its own).
pub fn json(usage: &[TenantUsage], one_line: bool) -> String {
    let text = if one_line { serde_json::to_string(usage) } else { serde_json::to_string_pretty(usage) };
    // Plain data of strings and numbers: serialising it cannot fail.
    text.unwrap_or_default() + "\n"
}

/// The YAML of one sample of every tenant, as one document (`---` first, so a stream of them
/// reads as a multi-document file).
pub fn yaml(usage: &[TenantUsage]) -> String {
    format!("---\n{}", serde_yaml::to_string(usage).unwrap_or_default())
}

fn percent(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.2}%")).unwrap_or_else(|| "-".into())
}

/// Memory in binary units, like `docker stats` (`12.5MiB`).
fn binary(bytes: Option<u64>) -> String {
    let Some(b) = bytes else { return "-".into() };
    scaled(b, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB"])
}

/// Network traffic in decimal units, like `docker stats` (`1.2kB`).
fn decimal(bytes: Option<u64>) -> String {
    let Some(b) = bytes else { return "-".into() };
    scaled(b, 1000.0, &["B", "kB", "MB", "GB", "TB"])
}

fn scaled(bytes: u64, base: f64, units: &[&str]) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}{}", units[0])
    } else {
        format!("{value:.1}{}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cpu: u64, system: u64, mem: u64, limit: u64, net: Option<(u64, u64)>) -> ResourceSample {
        ResourceSample {
            cpu_total_ns: cpu,
            system_cpu_ns: system,
            online_cpus: 2,
            memory_bytes: mem,
            memory_limit_bytes: limit,
            network_rx_bytes: net.map(|n| n.0),
            network_tx_bytes: net.map(|n| n.1),
        }
    }

    fn usage() -> Vec<TenantUsage> {
        let main = ContainerSamples {
            before: Some(sample(0, 0, 0, 0, None)),
            now: Some(sample(100, 1000, 48 << 20, 64 << 20, Some((1500, 200)))),
        };
        let sidecar = ContainerSamples {
            before: Some(sample(0, 0, 0, 0, None)),
            now: Some(sample(50, 1000, 8 << 20, 16 << 20, Some((500, 300)))),
        };
        vec![tenant_usage("acme", &[main, sidecar]), tenant_usage("idle", &[])]
    }

    #[test]
    fn a_tenant_is_the_sum_of_its_containers() {
        let u = &usage()[0];
        assert_eq!(u.containers, 2);
        // (100 + 50) / 1000 of the host's time, on 2 cores: 30 % of one core.
        assert!((u.cpu_percent.unwrap() - 30.0).abs() < 1e-9, "{:?}", u.cpu_percent);
        assert_eq!(u.memory_bytes, Some(56 << 20));
        assert_eq!(u.memory_limit_bytes, Some(80 << 20));
        assert!((u.memory_percent.unwrap() - 70.0).abs() < 1e-9);
        assert_eq!((u.network_rx_bytes, u.network_tx_bytes), (Some(2000), Some(500)));
    }

    #[test]
    fn what_no_container_reported_stays_unknown() {
        let first_sample = ContainerSamples { before: None, now: Some(sample(100, 1000, 1, 2, None)) };
        let u = tenant_usage("acme", &[first_sample]);
        assert_eq!(u.cpu_percent, None, "one sample gives no rate");
        assert_eq!(u.network_rx_bytes, None);
        let unsampled = tenant_usage("acme", &[ContainerSamples { before: None, now: None }]);
        assert_eq!((unsampled.containers, unsampled.memory_bytes, unsampled.memory_percent), (1, None, None));
    }

    #[test]
    fn the_table_aligns_and_says_dash_for_unknown() {
        let text = table(&usage()).render(false);
        assert_eq!(
            text,
            "TENANT  CONTAINERS   CPU %  MEM USAGE / LIMIT   MEM %  NET I/O (RX / TX)\n\
             acme             2  30.00%  56.0MiB / 80.0MiB  70.00%       2.0kB / 500B\n\
             idle             0       -              - / -       -              - / -\n"
        );
        assert!(!text.contains('\u{1b}'));
        assert!(table(&usage()).render(true).contains('\u{1b}'), "the idle tenant is dimmed");
    }

    #[test]
    fn json_and_yaml_carry_the_same_fields() {
        let u = usage();
        let line = json(&u, true);
        assert_eq!(line.lines().count(), 1);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed[0]["tenant"], "acme");
        assert_eq!(parsed[0]["memoryLimitBytes"], 80 << 20);
        assert_eq!(parsed[0]["networkTxBytes"], 500);
        assert_eq!(parsed[1]["cpuPercent"], serde_json::Value::Null);
        let pretty: serde_json::Value = serde_json::from_str(&json(&u, false)).unwrap();
        assert_eq!(pretty, parsed);
        let from_yaml: serde_json::Value = serde_yaml::from_str(&yaml(&u)).unwrap();
        assert_eq!(from_yaml, parsed);
    }

    #[test]
    fn a_clusters_rates_fill_cpu_and_memory_and_leave_network_unknown() {
        let runtime = ContainerUsage { name: "runtime".into(), cpu_nanocores: 250_000_000, memory_bytes: 48 << 20 };
        let cache = ContainerUsage { name: "cache".into(), cpu_nanocores: 50_000_000, memory_bytes: 8 << 20 };
        let u = tenant_rates("acme", &[(Some(&runtime), 64 << 20), (Some(&cache), 16 << 20)]);
        assert_eq!(u.containers, 2);
        assert!((u.cpu_percent.unwrap() - 30.0).abs() < 1e-9, "{:?}", u.cpu_percent);
        assert_eq!((u.memory_bytes, u.memory_limit_bytes), (Some(56 << 20), Some(80 << 20)));
        assert!((u.memory_percent.unwrap() - 70.0).abs() < 1e-9);
        assert_eq!((u.network_rx_bytes, u.network_tx_bytes), (None, None));

        let unsampled = tenant_rates("acme", &[(None, 64 << 20)]);
        assert_eq!((unsampled.containers, unsampled.cpu_percent, unsampled.memory_bytes), (1, None, None));
        let idle = tenant_rates("idle", &[]);
        assert_eq!((idle.containers, idle.cpu_percent), (0, None));
    }

    #[test]
    fn sizes_read_like_docker_stats() {
        assert_eq!(binary(Some(512)), "512B");
        assert_eq!(binary(Some(64 << 20)), "64.0MiB");
        assert_eq!(decimal(Some(1_234_567)), "1.2MB");
        assert_eq!(decimal(None), "-");
    }
}
