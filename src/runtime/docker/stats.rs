//! One sample of a container's resource counters, read from the engine's stats endpoint.

use bollard::models::{ContainerNetworkStats, ContainerStatsResponse};
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;

use super::errors::within;
use super::DockerRuntime;
use crate::runtime::error::RuntimeError;
use crate::runtime::model::ResourceSample;

/// What the engine reports as `read` when it took no sample (the container is not running).
const NEVER: &str = "0001-01-01T00:00:00Z";

impl DockerRuntime {
    /// One sample of a container of this instance. A container the engine does not sample (it
    /// is not running, or stops while it is sampled; a paused one is sampled) is an `Engine`
    /// error saying so, not a sample of zeros: zeros would read as "idle" and, with a zero limit,
    /// as "no limit".
    ///
    /// `one-shot` (API 1.41) spares the engine's wait for a second sample to fill `precpu_stats`,
    /// which a sample does not use; Docker 20.10 still answers only at its next collection (up to
    /// about a second).
    pub(super) async fn sample(&self, id: &str) -> Result<ResourceSample, RuntimeError> {
        let operation = format!("read stats of container {id}");
        self.require_owned(id, "read stats of container").await?;
        let docker = self.client().await?;
        let options = StatsOptionsBuilder::new().stream(false).one_shot(true).build();
        let mut samples = docker.stats(id, Some(options));
        let first = async {
            samples
                .next()
                .await
                .unwrap_or(Err(bollard::errors::Error::DockerStreamError { error: "the engine sent no sample".into() }))
        };
        let stats = within(self.timeouts.call, first).await.map_err(|e| self.fail(operation.clone(), e))?;
        resource_sample(&stats).ok_or_else(|| not_running(operation))
    }
}

fn not_running(operation: String) -> RuntimeError {
    RuntimeError::Engine { operation, message: "the container is not running".into() }
}

/// The sample in `stats`; `None` when the engine took none (it answers a stopped container with
/// an empty record).
fn resource_sample(stats: &ContainerStatsResponse) -> Option<ResourceSample> {
    if stats.read.as_deref().is_none_or(|r| r.is_empty() || r == NEVER) {
        return None;
    }
    let cpu = stats.cpu_stats.as_ref()?;
    let usage = cpu.cpu_usage.as_ref()?;
    let memory = stats.memory_stats.as_ref()?;
    let online_cpus = cpu
        .online_cpus
        .filter(|&n| n > 0)
        .or_else(|| {
            let n = usage.percpu_usage.as_ref()?.len();
            u32::try_from(n).ok().filter(|&n| n > 0)
        })
        .unwrap_or(1);
    Some(ResourceSample {
        cpu_total_ns: usage.total_usage?,
        system_cpu_ns: cpu.system_cpu_usage.unwrap_or(0),
        online_cpus,
        memory_bytes: memory.usage?.saturating_sub(page_cache(memory.stats.as_ref())),
        memory_limit_bytes: memory.limit.unwrap_or(0),
        network_rx_bytes: network_total(stats, |n| n.rx_bytes),
        network_tx_bytes: network_total(stats, |n| n.tx_bytes),
    })
}

/// The sum of one counter over the container's interfaces; `None` when the engine reports no
/// interface (a container without a network of its own, or an engine that does not say).
fn network_total(
    stats: &ContainerStatsResponse,
    counter: impl Fn(&ContainerNetworkStats) -> Option<u64>,
) -> Option<u64> {
    let networks = stats.networks.as_ref().filter(|n| !n.is_empty())?;
    Some(networks.values().filter_map(counter).fold(0u64, u64::saturating_add))
}

/// The page cache inside `usage`, which the kernel reclaims before it kills anything: cgroup v1
/// reports it as `cache` (else `total_inactive_file`), cgroup v2 only as `inactive_file`.
fn page_cache(stats: Option<&std::collections::HashMap<String, u64>>) -> u64 {
    let Some(stats) = stats else { return 0 };
    ["cache", "total_inactive_file", "inactive_file"].iter().find_map(|key| stats.get(*key).copied()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    use super::*;

    fn stats(memory: &[(&str, u64)], online: Option<u32>, percpu: usize) -> ContainerStatsResponse {
        ContainerStatsResponse {
            read: Some("2026-01-01T00:00:00.5Z".into()),
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(5_000),
                    percpu_usage: (percpu > 0).then(|| vec![1; percpu]),
                    ..Default::default()
                }),
                system_cpu_usage: None,
                online_cpus: online,
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(1_000),
                limit: Some(64 << 20),
                stats: Some(memory.iter().map(|(k, v)| (k.to_string(), *v)).collect::<HashMap<_, _>>()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn page_cache_is_left_out_per_cgroup_version() {
        // cgroup v1 reports `cache` beside the per-cgroup and hierarchical file counters.
        let v1 = stats(&[("cache", 300), ("total_inactive_file", 200), ("inactive_file", 100)], Some(2), 0);
        assert_eq!(resource_sample(&v1).unwrap().memory_bytes, 700);
        let v1_without_cache = stats(&[("total_inactive_file", 200), ("inactive_file", 100)], Some(2), 0);
        assert_eq!(resource_sample(&v1_without_cache).unwrap().memory_bytes, 800);
        let v2 = stats(&[("inactive_file", 100), ("anon", 900)], Some(2), 0);
        assert_eq!(resource_sample(&v2).unwrap().memory_bytes, 900);
        let more_cache_than_usage = stats(&[("cache", 5_000)], Some(2), 0);
        assert_eq!(resource_sample(&more_cache_than_usage).unwrap().memory_bytes, 0);
    }

    #[test]
    fn counters_are_copied_and_missing_ones_defaulted() {
        let s = resource_sample(&stats(&[], Some(4), 2)).unwrap();
        assert_eq!(
            s,
            ResourceSample {
                cpu_total_ns: 5_000,
                system_cpu_ns: 0,
                online_cpus: 4,
                memory_bytes: 1_000,
                memory_limit_bytes: 64 << 20,
                network_rx_bytes: None,
                network_tx_bytes: None,
            }
        );
        assert_eq!(resource_sample(&stats(&[], None, 3)).unwrap().online_cpus, 3);
        assert_eq!(resource_sample(&stats(&[], Some(0), 0)).unwrap().online_cpus, 1);
    }

    #[test]
    fn network_counters_are_summed_over_interfaces() {
        let mut s = stats(&[], Some(2), 0);
        let net = |rx, tx| ContainerNetworkStats { rx_bytes: Some(rx), tx_bytes: Some(tx), ..Default::default() };
        s.networks = Some(HashMap::from([("eth0".to_string(), net(100, 10)), ("eth1".to_string(), net(23, 4))]));
        let sample = resource_sample(&s).unwrap();
        assert_eq!((sample.network_rx_bytes, sample.network_tx_bytes), (Some(123), Some(14)));
        s.networks = Some(HashMap::new());
        assert_eq!(resource_sample(&s).unwrap().network_rx_bytes, None);
    }

    #[test]
    fn the_empty_record_of_a_stopped_container_is_no_sample() {
        let mut stopped = stats(&[], Some(2), 0);
        stopped.read = Some(NEVER.into());
        assert_eq!(resource_sample(&stopped), None);
        let mut no_memory = stats(&[], Some(2), 0);
        no_memory.memory_stats = Some(ContainerMemoryStats::default());
        assert_eq!(resource_sample(&no_memory), None);
    }
}
