//! Apply: runs each tenant's steps through the runtime, tenants in parallel with a bound; a
//! tenant's failure stays its own.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::health::{probe, ProbeOutcome};
use crate::plan::{Plan, Step, TenantPlan};
use crate::ports::host_port_free;
use crate::render::{ContainerRole, DesiredContainer};
use crate::runtime::{Runtime, RuntimeError};
use crate::spec::TenantName;
use crate::status::{ApplyFact, ProbeFact};

/// Seconds a container gets to stop before it is killed.
pub const STOP_TIMEOUT_SECS: u32 = 10;

/// How apply waits for a created or started runtime to answer its health check.
#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    pub enabled: bool,
    /// Upper bound on any one tenant's wait.
    pub max: Duration,
}

/// What happened to one tenant.
#[derive(Debug, Clone)]
pub struct TenantOutcome {
    pub fact: ApplyFact,
    pub probe: Option<ProbeFact>,
    /// Whether any step ran.
    pub mutated: bool,
}

/// Runs the plan. `port_range` is used when a planned host port turns out to be taken.
pub async fn execute(
    runtime: &dyn Runtime,
    plan: &Plan,
    concurrency: usize,
    port_range: &RangeInclusive<u16>,
    wait: WaitPolicy,
) -> BTreeMap<TenantName, TenantOutcome> {
    let held: BTreeSet<u16> = plan.tenants.iter().filter_map(|t| t.host_port).collect();
    stream::iter(plan.tenants.iter())
        .map(|tp| {
            let held = &held;
            async move {
                (
                    tp.tenant.clone(),
                    apply_tenant(runtime, tp, port_range, held, wait).await,
                )
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

async fn apply_tenant(
    runtime: &dyn Runtime,
    tp: &TenantPlan,
    port_range: &RangeInclusive<u16>,
    held: &BTreeSet<u16>,
    wait: WaitPolicy,
) -> TenantOutcome {
    if let Some(b) = &tp.blocked {
        return TenantOutcome {
            fact: ApplyFact::Blocked(b.clone()),
            probe: None,
            mutated: false,
        };
    }
    if tp.steps.is_empty() {
        return TenantOutcome {
            fact: ApplyFact::NothingToDo,
            probe: None,
            mutated: false,
        };
    }
    let mut started_main_port = None;
    for step in &tp.steps {
        let result = match step {
            Step::EnsureImage { image } => runtime.ensure_image(image).await.map(|_| ()),
            Step::CreateNetwork { network } => runtime
                .create_network(&tp.tenant, network)
                .await
                .map(|_| ()),
            Step::RemoveNetwork { name } => runtime.remove_network(name).await,
            Step::CreateVolume { name } => runtime.create_volume(&tp.tenant, name).await,
            Step::CreateContainer {
                container,
                host_port,
                start,
                ..
            } => {
                let spec_hash = tp
                    .desired
                    .as_ref()
                    .map(|d| d.spec_hash.as_str())
                    .unwrap_or_default();
                let network = tp
                    .desired
                    .as_ref()
                    .map(|d| d.network.name.as_str())
                    .unwrap_or_default();
                match create_and_start(
                    runtime, &tp.tenant, spec_hash, container, network, *host_port, *start,
                    port_range, held,
                )
                .await
                {
                    Ok(port) => {
                        if container.role == ContainerRole::Main && *start {
                            started_main_port = port.or(Some(0));
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Step::RemoveContainer { id, .. } => {
                match runtime.stop_container(id, STOP_TIMEOUT_SECS).await {
                    Ok(()) => runtime.remove_container(id).await,
                    Err(e) => Err(e),
                }
            }
            Step::StartContainer { id, name } => {
                let r = runtime.start_container(id).await;
                if r.is_ok() && tp.desired.as_ref().is_some_and(|d| d.main().name == *name) {
                    started_main_port = tp.host_port.or(Some(0));
                }
                r
            }
            Step::StopContainer { id, .. } => runtime.stop_container(id, STOP_TIMEOUT_SECS).await,
            Step::UpdateLimits { id, to, .. } => runtime.update_limits(id, to).await,
        };
        if let Err(e) = result {
            let image_pull = matches!(
                e,
                RuntimeError::ImagePull { .. } | RuntimeError::ImageMissing { .. }
            );
            return TenantOutcome {
                fact: ApplyFact::Failed {
                    message: e.to_string(),
                    image_pull,
                },
                probe: None,
                mutated: true,
            };
        }
    }
    let probe = match (started_main_port, &tp.desired) {
        (Some(port), Some(d)) if wait.enabled && port != 0 => {
            let main = d.main();
            let health = main.health.as_ref();
            let budget = health
                .map(|h| {
                    Duration::from_millis(h.start_period_ms + h.interval_ms * u64::from(h.retries))
                })
                .unwrap_or(Duration::from_secs(30))
                .min(wait.max);
            let path = health.map(|h| h.path.as_str()).unwrap_or("/");
            let timeout = health
                .map(|h| Duration::from_millis(h.timeout_ms))
                .unwrap_or(Duration::from_secs(5));
            match wait_healthy(port, path, timeout, budget).await {
                Ok(()) => Some(ProbeFact::Healthy),
                Err(last) => {
                    return TenantOutcome {
                        fact: ApplyFact::Failed {
                            message: format!(
                                "the runtime did not become healthy within {} s ({last})",
                                budget.as_secs()
                            ),
                            image_pull: false,
                        },
                        probe: Some(ProbeFact::Down),
                        mutated: true,
                    }
                }
            }
        }
        _ => None,
    };
    TenantOutcome {
        fact: ApplyFact::Applied,
        probe,
        mutated: true,
    }
}

/// Creates and (optionally) starts a container; when its host port turns out to be taken,
/// removes it and tries the next free port in range. Returns the host port used.
#[allow(clippy::too_many_arguments)]
async fn create_and_start(
    runtime: &dyn Runtime,
    tenant: &TenantName,
    spec_hash: &str,
    c: &DesiredContainer,
    network: &str,
    host_port: Option<u16>,
    start: bool,
    range: &RangeInclusive<u16>,
    held: &BTreeSet<u16>,
) -> Result<Option<u16>, RuntimeError> {
    let mut port = host_port;
    let mut tried = BTreeSet::new();
    loop {
        let id = runtime
            .create_container(tenant, spec_hash, c, network, port)
            .await?;
        if !start {
            return Ok(port);
        }
        match runtime.start_container(&id).await {
            Ok(()) => return Ok(port),
            Err(RuntimeError::PortInUse { port: taken }) if tried.len() < 8 => {
                runtime.remove_container(&id).await?;
                tried.insert(taken);
                let next = range.clone().find(|p| {
                    *p > taken && !held.contains(p) && !tried.contains(p) && host_port_free(*p)
                });
                match next {
                    Some(p) => port = Some(p),
                    None => return Err(RuntimeError::PortInUse { port: taken }),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Polls the runtime's health endpoint until it answers 2xx or the budget runs out; the error
/// is the last probe's finding.
async fn wait_healthy(
    port: u16,
    path: &str,
    timeout: Duration,
    budget: Duration,
) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + budget;
    loop {
        let last = match probe(
            addr,
            path,
            timeout.min(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(100)),
            ),
        )
        .await
        {
            ProbeOutcome::Healthy { .. } => return Ok(()),
            ProbeOutcome::Degraded { status, .. } => format!("last answer: HTTP {status}"),
            ProbeOutcome::Down { reason } => reason,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
