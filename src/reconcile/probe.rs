//! tenantd's own health probe of every running runtime with a published port, so a status
//! reflects what answers now and not only the engine's last (possibly still starting) verdict.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::health::{probe, ProbeOutcome};
use crate::render::{ContainerRole, DesiredTenant};
use crate::runtime::{ContainerState, ObservedWorld};
use crate::spec::TenantName;
use crate::status::ProbeFact;

/// Probes the main container of each desired tenant that runs and publishes a port.
pub async fn probe_running(
    desired: &BTreeMap<TenantName, std::sync::Arc<DesiredTenant>>,
    observed: &ObservedWorld,
    concurrency: usize,
) -> BTreeMap<TenantName, ProbeFact> {
    let targets: Vec<(TenantName, u16, String, Duration)> = desired
        .values()
        .filter_map(|d| {
            let health = d.main().health.as_ref()?;
            let oc = observed.tenants.get(&d.name)?.container(&ContainerRole::Main)?;
            let port = oc.host_port.filter(|_| oc.state == ContainerState::Running)?;
            Some((d.name.clone(), port, health.path.clone(), Duration::from_millis(health.timeout_ms)))
        })
        .collect();
    stream::iter(targets)
        .map(|(name, port, path, timeout)| async move {
            let outcome = probe(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), &path, timeout).await;
            (name, fact(&outcome))
        })
        .buffer_unordered(concurrency.max(1))
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
