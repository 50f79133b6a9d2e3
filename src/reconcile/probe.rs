//! tenantd's own health probe of every running runtime with a published port, so a status
//! reflects what answers now and not only the engine's last (possibly still starting) verdict.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::health::{probe, ProbeOutcome};
use crate::render::DesiredTenant;
use crate::runtime::ObservedWorld;
use crate::spec::TenantName;
use crate::status::ProbeFact;

/// Probes in flight at once. A probe is one loopback HTTP request that the engine does not see,
/// so this is not bound by the engine's `concurrency`.
const PROBE_CONCURRENCY: usize = 64;

/// Probes the main container of each desired tenant that runs and publishes a port.
pub async fn probe_running(
    desired: &BTreeMap<TenantName, std::sync::Arc<DesiredTenant>>,
    observed: &ObservedWorld,
) -> BTreeMap<TenantName, ProbeFact> {
    let targets: Vec<(TenantName, u16, String, Duration)> = desired
        .values()
        .filter_map(|d| {
            let health = d.main().health.as_ref()?;
            let port = observed.tenants.get(&d.name)?.serving_port()?;
            Some((d.name.clone(), port, health.path.clone(), Duration::from_millis(health.timeout_ms)))
        })
        .collect();
    stream::iter(targets)
        .map(|(name, port, path, timeout)| async move {
            let outcome = probe(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), &path, timeout).await;
            (name, fact(&outcome))
        })
        .buffer_unordered(PROBE_CONCURRENCY)
        .collect()
        .await
}

fn fact(outcome: &ProbeOutcome) -> ProbeFact {
    match outcome {
        ProbeOutcome::Healthy { .. } => ProbeFact::Healthy,
        ProbeOutcome::Degraded { .. } => ProbeFact::Degraded,
        ProbeOutcome::Down { .. } => ProbeFact::Down,
    }
}
