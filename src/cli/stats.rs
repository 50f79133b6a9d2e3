//! `tenantd stats`: live resource use per tenant, like `docker stats` for tenants.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::stats_view::{self, ContainerSamples, TenantUsage};
use super::style::stdout_colour;
use super::OutputFormat;
use crate::config::DaemonConfig;
use crate::render::ContainerRole;
use crate::runtime::{
    Cluster, ContainerState, ContainerUsage, Family, ObservedContainer, ObservedWorld, ResourceSample, Runtime,
    RuntimeError,
};
use crate::spec::TenantName;
use crate::status::StatusStore;

/// Between refreshes, as `docker stats` does.
const REFRESH: Duration = Duration::from_secs(2);
/// The window of the first CPU figure: a rate needs two samples.
const FIRST_WINDOW: Duration = Duration::from_secs(1);
/// Containers sampled at once.
const PARALLEL_SAMPLES: usize = 8;

pub async fn run(cfg: &DaemonConfig, tenants: &[String], no_stream: bool, output: OutputFormat) -> anyhow::Result<u8> {
    match stream(cfg, tenants, no_stream, output).await {
        // `tenantd stats | head`: the reader has what it wanted.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(0)
        }
        other => other,
    }
}

async fn stream(cfg: &DaemonConfig, tenants: &[String], no_stream: bool, output: OutputFormat) -> anyhow::Result<u8> {
    let runtime = super::connect(cfg).await?;
    let named = named_tenants(cfg, runtime.as_ref(), tenants).await?;
    let tty = std::io::stdout().is_terminal();
    let mut sampler = Sampler::default();
    // An engine's first figures need a sample before them; a cluster's metrics API gives rates.
    if let Family::Containers(_) = runtime.family() {
        sampler.frame(runtime.as_ref(), named.as_ref()).await?;
        tokio::time::sleep(FIRST_WINDOW).await;
    }
    let mut ticks = tokio::time::interval(REFRESH);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut first = true;
    loop {
        let usage = sampler.frame(runtime.as_ref(), named.as_ref()).await?;
        let text = match output {
            OutputFormat::Table => stats_view::table(&usage).render(stdout_colour()),
            OutputFormat::Json => stats_view::json(&usage, !no_stream),
            OutputFormat::Yaml => stats_view::yaml(&usage),
        };
        let mut out = std::io::stdout().lock();
        if no_stream {
            out.write_all(text.as_bytes())?;
            return Ok(0);
        }
        if tty {
            // Redraw in place: home, the frame, then clear whatever the last one left below it.
            let clear = if std::mem::take(&mut first) { "\x1b[2J" } else { "" };
            write!(out, "{clear}\x1b[H{}\x1b[J", text.replace('\n', "\x1b[K\n"))?;
        } else {
            // One frame after another; tables get a blank line between them.
            let gap = if output == OutputFormat::Table { "\n" } else { "" };
            write!(out, "{text}{gap}")?;
        }
        out.flush()?;
        drop(out);
        tokio::select! {
            _ = ticks.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// The tenants named on the command line (`None`: every tenant of this instance). A name must
/// be a tenant of this instance: seen on the runtime or with a status file.
async fn named_tenants(
    cfg: &DaemonConfig,
    runtime: &dyn Runtime,
    names: &[String],
) -> anyhow::Result<Option<BTreeSet<TenantName>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let world = runtime.observe(&[], &[]).await?;
    let statuses = StatusStore::new(cfg.status_dir()).read_all().unwrap_or_default();
    let mut known: Vec<&str> = world.tenants.keys().chain(statuses.keys()).map(TenantName::as_str).collect();
    known.sort_unstable();
    known.dedup();
    let mut wanted = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in names {
        match name.parse::<TenantName>() {
            Ok(t) if known.contains(&t.as_str()) => {
                wanted.insert(t);
            }
            _ => unknown.push(match crate::suggest::closest(name, &known) {
                Some(close) => format!("no tenant {name:?} in instance {}; did you mean {close:?}?", cfg.instance),
                None => format!("no tenant {name:?} in instance {}", cfg.instance),
            }),
        }
    }
    if !unknown.is_empty() {
        anyhow::bail!("{}", unknown.join("\n"));
    }
    Ok(Some(wanted))
}

/// The last sample of every container, to compute rates against.
#[derive(Default)]
struct Sampler {
    last: HashMap<String, ResourceSample>,
}

impl Sampler {
    /// Observes the instance, samples the running containers of the tenants in scope, and
    /// returns each tenant's use, by name.
    async fn frame(
        &mut self,
        runtime: &dyn Runtime,
        only: Option<&BTreeSet<TenantName>>,
    ) -> Result<Vec<TenantUsage>, RuntimeError> {
        let world = runtime.observe(&[], &[]).await?;
        let engine = match runtime.family() {
            Family::Containers(engine) => engine,
            Family::Cluster(cluster) => return cluster_frame(cluster, &world, only).await,
        };
        let running = running_containers(&world, only);
        let mut samples: HashMap<String, Result<ResourceSample, RuntimeError>> =
            stream::iter(running.values().flatten())
                .map(|id| async move { (id.clone(), engine.stats(id).await) })
                .buffer_unordered(PARALLEL_SAMPLES)
                .collect()
                .await;
        let mut usage = Vec::new();
        let mut last = HashMap::new();
        for (tenant, ids) in &running {
            let mut containers = Vec::new();
            for id in ids {
                let now = match samples.remove(id) {
                    Some(Ok(s)) => Some(s),
                    Some(Err(e)) if e.is_unreachable() => return Err(e),
                    // It stopped between the listing and its sample: not running any more.
                    Some(Err(RuntimeError::Engine { .. })) => continue,
                    // Not sampled: unknown, shown as `-`.
                    Some(Err(_)) | None => None,
                };
                if let Some(s) = now {
                    last.insert(id.clone(), s);
                }
                containers.push(ContainerSamples { before: self.last.get(id).copied(), now });
            }
            usage.push(stats_view::tenant_usage(tenant.as_str(), &containers));
        }
        self.last = last;
        Ok(usage)
    }
}

/// Each tenant's use on a cluster, from its metrics API: its pod's running containers (runtime
/// and sidecars) with the limits the pod has. A cluster without a metrics API is an error, not
/// a table of unknowns.
async fn cluster_frame(
    cluster: &dyn Cluster,
    world: &ObservedWorld,
    only: Option<&BTreeSet<TenantName>>,
) -> Result<Vec<TenantUsage>, RuntimeError> {
    let running = running_by_tenant(world, only);
    let usage: Vec<Result<Option<Vec<ContainerUsage>>, RuntimeError>> = stream::iter(running.iter())
        .map(|(tenant, containers)| async move {
            if containers.is_empty() {
                return Ok(None);
            }
            cluster.pod_usage(tenant).await
        })
        .buffered(PARALLEL_SAMPLES)
        .collect()
        .await;
    let mut out = Vec::new();
    for ((tenant, containers), sampled) in running.iter().zip(usage) {
        let sampled = match sampled {
            Ok(s) => s.unwrap_or_default(),
            Err(e @ (RuntimeError::NoMetricsApi { .. } | RuntimeError::Unreachable { .. })) => return Err(e),
            // The pod went between the listing and its metrics: not sampled.
            Err(e) => {
                tracing::debug!(tenant = %tenant, error = %e, "no metrics");
                Vec::new()
            }
        };
        let rows: Vec<(Option<&ContainerUsage>, u64)> = containers
            .iter()
            .map(|c| {
                let limit = u64::try_from(c.limits.memory_bytes).unwrap_or(0);
                (sampled.iter().find(|u| u.name == c.name), limit)
            })
            .collect();
        out.push(stats_view::tenant_rates(tenant.as_str(), &rows));
    }
    Ok(out)
}

/// The running containers of each tenant in scope (see [`counted`]); a named tenant without
/// any is listed with none.
fn running_by_tenant<'w>(
    world: &'w ObservedWorld,
    only: Option<&BTreeSet<TenantName>>,
) -> BTreeMap<TenantName, Vec<&'w ObservedContainer>> {
    let mut out: BTreeMap<TenantName, Vec<&ObservedContainer>> =
        only.map(|o| o.iter().map(|t| (t.clone(), vec![])).collect()).unwrap_or_default();
    for (name, tenant) in &world.tenants {
        if only.is_some_and(|o| !o.contains(name)) {
            continue;
        }
        out.entry(name.clone()).or_default().extend(tenant.containers.iter().filter(|c| counted(c)));
    }
    out
}

/// A container `stats` counts: running (or paused) and the tenant's own, not its ingress (the
/// ingress is tenantd's, not what the spec sized).
fn counted(c: &ObservedContainer) -> bool {
    matches!(c.state, ContainerState::Running | ContainerState::Paused) && c.role != ContainerRole::Ingress
}

/// The ids of the running containers of each tenant in scope (its runtime and sidecars: the
/// ingress is tenantd's, not what the spec sized); a named tenant without any running container
/// is listed with none.
fn running_containers(world: &ObservedWorld, only: Option<&BTreeSet<TenantName>>) -> BTreeMap<TenantName, Vec<String>> {
    running_by_tenant(world, only)
        .into_iter()
        .map(|(tenant, containers)| (tenant, containers.iter().map(|c| c.id.clone()).collect()))
        .collect()
}
