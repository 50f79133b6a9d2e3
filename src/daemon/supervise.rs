//! What the daemon learns from watching a running tenant: its own health probes and resource
//! samples. Pure bookkeeping; the controller does the I/O.

use std::time::Duration;

use tokio::time::Instant;

use crate::health::ProbeOutcome;
use crate::runtime::ResourceSample;
use crate::status::{ProbeFact, Usage};

/// Memory above this share of the limit, for two samples running, is pressure.
pub const MEMORY_PRESSURE: f64 = 0.90;
/// CPU above this share of the quota, for two samples running, is pressure.
pub const CPU_PRESSURE: f64 = 0.95;

/// Resource samples of one tenant's main container, and the pressure they show.
#[derive(Debug, Default)]
pub struct ResourceTrack {
    pub last_sample: Option<(Instant, ResourceSample)>,
    pub usage: Option<Usage>,
    high_samples: u32,
    pub pressure: Option<String>,
}

/// The outcome of tenantd's own probes, in a row.
#[derive(Debug, Default, Clone)]
pub struct HealthTrack {
    pub last: Option<ProbeFact>,
    pub latency: Option<Duration>,
    /// Probes in a row that found the runtime unhealthy: no answer, or an answer that is not
    /// 2xx. `health.retries` of them get its container restarted.
    pub consecutive_failures: u32,
    pub last_probe_at: Option<Instant>,
}

impl HealthTrack {
    /// Records a probe; returns true when the verdict changed.
    pub fn record(&mut self, outcome: &ProbeOutcome, at: Instant) -> bool {
        let (fact, latency) = match outcome {
            ProbeOutcome::Healthy { latency } => (ProbeFact::Healthy, Some(*latency)),
            ProbeOutcome::Degraded { latency, .. } => (ProbeFact::Degraded, Some(*latency)),
            ProbeOutcome::Down { .. } => (ProbeFact::Down, None),
        };
        self.consecutive_failures = if fact == ProbeFact::Healthy { 0 } else { self.consecutive_failures + 1 };
        self.latency = latency.or(self.latency);
        self.last_probe_at = Some(at);
        let changed = self.last != Some(fact);
        self.last = Some(fact);
        changed
    }

    /// Forgets everything, e.g. after the container was replaced or restarted.
    pub fn reset(&mut self) {
        *self = HealthTrack::default();
    }
}

impl ResourceTrack {
    /// Takes a resource sample; returns true when usage or pressure changed enough to report.
    pub fn sampled(&mut self, sample: ResourceSample, nano_cpus: i64, at: Instant) -> bool {
        let cpu_percent = match self.last_sample {
            Some((_, prev)) => cpu_percent_of_quota(&prev, &sample, nano_cpus),
            None => 0.0,
        };
        self.last_sample = Some((at, sample));
        let usage =
            Usage { cpu_percent, memory_bytes: sample.memory_bytes, memory_limit_bytes: sample.memory_limit_bytes };
        let memory_share = if sample.memory_limit_bytes > 0 {
            sample.memory_bytes as f64 / sample.memory_limit_bytes as f64
        } else {
            0.0
        };
        let high = memory_share > MEMORY_PRESSURE || cpu_percent / 100.0 > CPU_PRESSURE;
        self.high_samples = if high { self.high_samples + 1 } else { 0 };
        let pressure = (self.high_samples >= 2).then(|| {
            format!("memory at {:.0} % of its limit, CPU at {:.0} % of its quota", memory_share * 100.0, cpu_percent)
        });
        let changed = pressure.is_some() != self.pressure.is_some() || self.usage.is_none_or(|u| differs(&u, &usage));
        self.pressure = pressure;
        self.usage = Some(usage);
        changed
    }
}

/// Usage changes worth a status write: a few percent of CPU or of the memory limit.
fn differs(a: &Usage, b: &Usage) -> bool {
    let mem_step = (a.memory_limit_bytes.max(1) / 20).max(1);
    (a.cpu_percent - b.cpu_percent).abs() >= 5.0 || a.memory_bytes.abs_diff(b.memory_bytes) >= mem_step
}

/// CPU use between two samples as a percentage of the container's quota (`cpus` in the spec).
pub fn cpu_percent_of_quota(prev: &ResourceSample, now: &ResourceSample, nano_cpus: i64) -> f64 {
    let cpu = now.cpu_total_ns.saturating_sub(prev.cpu_total_ns) as f64;
    let system = now.system_cpu_ns.saturating_sub(prev.system_cpu_ns) as f64;
    if system <= 0.0 || nano_cpus <= 0 {
        return 0.0;
    }
    let cores_used = cpu / system * f64::from(now.online_cpus.max(1));
    cores_used / (nano_cpus as f64 / 1e9) * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cpu: u64, system: u64, mem: u64) -> ResourceSample {
        ResourceSample {
            cpu_total_ns: cpu,
            system_cpu_ns: system,
            online_cpus: 2,
            memory_bytes: mem,
            memory_limit_bytes: 100,
            network_rx_bytes: None,
            network_tx_bytes: None,
        }
    }

    #[test]
    fn cpu_is_a_share_of_the_quota() {
        // Half a core used (of 2 online) against a quota of half a core: 100 %.
        let p = cpu_percent_of_quota(&sample(0, 0, 0), &sample(250, 1000, 0), 500_000_000);
        assert!((p - 100.0).abs() < 1e-9, "{p}");
        assert_eq!(cpu_percent_of_quota(&sample(0, 0, 0), &sample(5, 0, 0), 1), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn pressure_needs_two_high_samples_and_clears_on_a_low_one() {
        let mut s = ResourceTrack::default();
        let now = Instant::now();
        s.sampled(sample(0, 0, 95), 1_000_000_000, now);
        assert!(s.pressure.is_none(), "one sample is not enough");
        assert!(s.sampled(sample(0, 10, 96), 1_000_000_000, now));
        assert!(s.pressure.as_deref().unwrap().contains("memory at 96 %"));
        assert!(s.sampled(sample(0, 20, 10), 1_000_000_000, now));
        assert!(s.pressure.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn health_counts_consecutive_failures_of_both_kinds() {
        let mut h = HealthTrack::default();
        let down = ProbeOutcome::Down { reason: "refused".into() };
        let answers_503 = ProbeOutcome::Degraded { status: 503, latency: Duration::from_millis(2) };
        assert!(h.record(&down, Instant::now()));
        assert!(!h.record(&down, Instant::now()));
        assert_eq!(h.consecutive_failures, 2);
        // A runtime that answers, but not 2xx, is as unhealthy as one that does not answer.
        assert!(h.record(&answers_503, Instant::now()));
        assert_eq!(h.consecutive_failures, 3);
        assert!(h.record(&ProbeOutcome::Healthy { latency: Duration::from_millis(3) }, Instant::now()));
        assert_eq!(h.consecutive_failures, 0);
        assert_eq!(h.latency, Some(Duration::from_millis(3)));
    }
}
