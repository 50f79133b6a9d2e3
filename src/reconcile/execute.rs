//! Apply: runs each tenant's steps through the runtime, tenants in parallel with a bound; a
//! tenant's failure stays its own. Replacements are gated on health and rolled back.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::files::{FileDelivery, FilesError};
use super::ingress;
use super::outcome::TenantOutcome;
use super::progress::{ExecEvent, ProgressSink};
use super::rollout;
use super::wait::wait_healthy;
use crate::plan::{ChangeKind, Plan, Step, TenantPlan};
use crate::ports::host_port_free;
use crate::render::kubernetes::ObjectKind;
use crate::render::{aside_name, ContainerRole, DesiredContainer, ReplaceStrategy};
use crate::runtime::{Cluster, ContainerEngine, Runtime, RuntimeError, SecretValues};
use crate::spec::TenantName;
use crate::status::{ApplyFact, ProbeFact};

/// Seconds a container gets to stop before it is killed.
pub const STOP_TIMEOUT_SECS: u32 = 10;

pub use crate::render::ASIDE_SUFFIX;

/// How apply waits for a created or started runtime to answer its health check.
#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    pub enabled: bool,
    /// Upper bound on any one tenant's wait.
    pub max: Duration,
}

/// What every tenant's execution shares.
#[derive(Debug, Clone)]
pub struct ExecContext {
    pub port_range: RangeInclusive<u16>,
    /// Host ports the plan hands out, never taken by a retry.
    /// Shared: every worker of a pass gets a copy of the context.
    pub held: std::sync::Arc<BTreeSet<u16>>,
    pub wait: WaitPolicy,
    /// Where runtime files go; without it, a plan that writes files fails those tenants.
    pub files: Option<FileDelivery>,
    /// Who hears how each tenant's execution goes, if anyone.
    pub progress: Option<ProgressSink>,
}

impl ExecContext {
    pub fn for_plan(plan: &Plan, port_range: &RangeInclusive<u16>, wait: WaitPolicy) -> Self {
        Self {
            port_range: port_range.clone(),
            held: std::sync::Arc::new(plan.tenants.iter().filter_map(|t| t.host_port).collect()),
            wait,
            files: None,
            progress: None,
        }
    }
}

/// Runs the plan, `concurrency` tenants at a time.
pub async fn execute(
    runtime: &dyn Runtime,
    plan: &Plan,
    concurrency: usize,
    port_range: &RangeInclusive<u16>,
    wait: WaitPolicy,
    files: Option<FileDelivery>,
) -> BTreeMap<TenantName, TenantOutcome> {
    execute_reporting(runtime, plan, concurrency, port_range, wait, files, None).await
}

/// [`execute`], telling `progress` how each tenant's execution goes.
pub async fn execute_reporting(
    runtime: &dyn Runtime,
    plan: &Plan,
    concurrency: usize,
    port_range: &RangeInclusive<u16>,
    wait: WaitPolicy,
    files: Option<FileDelivery>,
    progress: Option<ProgressSink>,
) -> BTreeMap<TenantName, TenantOutcome> {
    let ctx = ExecContext { files, progress, ..ExecContext::for_plan(plan, port_range, wait) };
    execute_with(runtime, plan, concurrency, &ctx).await
}

/// Runs the plan in `ctx`, `concurrency` tenants at a time.
pub async fn execute_with(
    runtime: &dyn Runtime,
    plan: &Plan,
    concurrency: usize,
    ctx: &ExecContext,
) -> BTreeMap<TenantName, TenantOutcome> {
    // The futures are made before they are streamed: a closure kept inside the stream would
    // make this future one the compiler cannot prove `Send` for every lifetime, and the
    // daemon's future holds it.
    let runs: Vec<_> = plan
        .tenants
        .iter()
        .map(|tp| async move { (tp.tenant.clone(), execute_tenant(runtime, tp, ctx).await) })
        .collect();
    stream::iter(runs).buffer_unordered(concurrency.max(1)).collect().await
}

/// Runs one tenant's steps in order; the first failing step ends it.
pub async fn execute_tenant(runtime: &dyn Runtime, tp: &TenantPlan, ctx: &ExecContext) -> TenantOutcome {
    if let Some(b) = &tp.blocked {
        return TenantOutcome::new(ApplyFact::Blocked(b.clone()), None, false);
    }
    if tp.steps.is_empty() {
        return TenantOutcome::new(ApplyFact::NothingToDo, None, false);
    }
    report(ctx, ExecEvent::Started { tenant: &tp.tenant, steps: tp.steps.len() });
    let outcome = run_steps(runtime, tp, ctx).await;
    report(ctx, ExecEvent::Finished { tenant: &tp.tenant, outcome: &outcome });
    outcome
}

fn report(ctx: &ExecContext, event: ExecEvent<'_>) {
    if let Some(p) = &ctx.progress {
        p.emit(event)
    }
}

async fn run_steps(runtime: &dyn Runtime, tp: &TenantPlan, ctx: &ExecContext) -> TenantOutcome {
    let mut run =
        TenantRun { runtime, tp, ctx, started_main_port: None, probe: None, rolled_out: false, stopped: vec![] };
    let total = tp.steps.len();
    for (index, step) in tp.steps.iter().enumerate() {
        run.report(ExecEvent::Step { tenant: &tp.tenant, index: index + 1, total, step });
        if let Err(e) = files_step(tp, step, ctx.files.as_ref()) {
            return TenantOutcome::new(ApplyFact::Failed { message: e.to_string(), image_pull: false }, None, true);
        }
        let secrets = match secret_values(tp, step, ctx.files.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                return TenantOutcome::new(ApplyFact::Failed { message: e.to_string(), image_pull: false }, None, true)
            }
        };
        match run.step(step, &secrets).await {
            Ok(None) => {}
            Ok(Some(rolled_back)) => return TenantOutcome::new(rolled_back, Some(ProbeFact::Down), true),
            Err(e) => {
                let image_pull = matches!(e, RuntimeError::ImagePull { .. } | RuntimeError::ImageMissing { .. });
                // Whatever this run stopped on its way runs again before the tenant is given up.
                let message = match run.restart_stopped().await {
                    Ok(restarted) if restarted.is_empty() => e.to_string(),
                    Ok(restarted) => format!("{e}; container {} runs again as it was", restarted.join(", ")),
                    Err(again) => format!("{e}; starting what was stopped failed too: {again}"),
                };
                let mut outcome = TenantOutcome::new(ApplyFact::Failed { message, image_pull }, None, true);
                outcome.engine_unreachable = e.is_unreachable();
                return outcome;
            }
        }
    }
    // A deleted tenant's ingress directory goes with it.
    if let (Some(files), ChangeKind::Delete) = (ctx.files.as_ref(), tp.change) {
        if let Err(e) = ingress::remove(&files.ingress_dir(&tp.tenant)) {
            tracing::warn!(tenant = %tp.tenant, error = %e, "cannot remove the ingress directory of a deleted tenant");
        }
    }
    // Every step went through: the runtime has its files, and was told if it needed to be.
    if let (Some(files), Some(wanted), true) = (
        ctx.files.as_ref(),
        tp.desired.as_ref().and_then(|d| d.files.as_ref()),
        tp.steps.iter().any(|s| matches!(s, Step::WriteFiles { .. })),
    ) {
        if let Err(e) = files.record(&tp.tenant, wanted) {
            return TenantOutcome::new(ApplyFact::Failed { message: e.to_string(), image_pull: false }, None, true);
        }
    }
    run.finish().await
}

/// Writes or removes the tenant's runtime files for the steps that say so.
fn files_step(tp: &TenantPlan, step: &Step, files: Option<&FileDelivery>) -> Result<(), FilesError> {
    let delivery = || files.ok_or_else(|| FilesError::Identity("runtime files cannot be written here".into()));
    match step {
        Step::WriteFiles { files: changed } => match tp.desired.as_ref().and_then(|d| d.files.as_ref()) {
            Some(wanted) => delivery()?.write(&tp.tenant, wanted, changed),
            None => Ok(()),
        },
        Step::RemoveFiles => delivery()?.remove(&tp.tenant),
        _ => Ok(()),
    }
}

/// The decrypted values of the tenant's secrets, for the step that applies its Secret to a
/// cluster; none for any other step.
fn secret_values(tp: &TenantPlan, step: &Step, files: Option<&FileDelivery>) -> Result<SecretValues, FilesError> {
    let wanted = tp.desired.as_ref().and_then(|d| d.files.as_ref());
    match (step, wanted) {
        (Step::ApplyObject { kind: ObjectKind::Secret, .. }, Some(wanted)) => {
            files.ok_or_else(|| FilesError::Identity("secrets cannot be decrypted here".into()))?.decrypt_all(wanted)
        }
        _ => Ok(SecretValues::new()),
    }
}

struct TenantRun<'a> {
    runtime: &'a dyn Runtime,
    tp: &'a TenantPlan,
    ctx: &'a ExecContext,
    /// Set when the main container was created or started and has a port to probe.
    started_main_port: Option<u16>,
    /// Set when a gated replacement already proved the runtime healthy.
    probe: Option<ProbeFact>,
    /// Set when a cluster was given a Deployment that runs a pod: its rollout is awaited.
    rolled_out: bool,
    /// Containers this run stopped to replace them and has not removed: started again (under
    /// their name) when a later step fails.
    stopped: Vec<Stopped>,
}

/// A container stopped on the way, and the name it runs under.
struct Stopped {
    id: String,
    name: String,
}

impl<'a> TenantRun<'a> {
    fn report(&self, event: ExecEvent<'_>) {
        report(self.ctx, event)
    }

    /// The runtime as a container engine, for a container step; a plan for a cluster has none.
    fn engine(&self) -> Result<&'a dyn ContainerEngine, RuntimeError> {
        self.runtime.containers("run a container step of a plan")
    }

    /// The runtime as a cluster, for an object step; a plan for a container engine has none.
    fn cluster(&self) -> Result<&'a dyn Cluster, RuntimeError> {
        self.runtime.cluster("run an object step of a plan")
    }

    /// Runs one step; `Ok(Some(fact))` ends the tenant with that fact (a rollback).
    async fn step(&mut self, step: &Step, secrets: &SecretValues) -> Result<Option<ApplyFact>, RuntimeError> {
        match step {
            Step::EnsureImage { image } => self.engine()?.ensure_image(image).await.map(|_| ())?,
            Step::CreateNetwork { network } => {
                self.engine()?.create_network(&self.tp.tenant, network).await.map(|_| ())?
            }
            Step::RemoveNetwork { name } => self.engine()?.remove_network(name).await?,
            Step::CreateVolume { name } => self.engine()?.create_volume(&self.tp.tenant, name).await?,
            Step::CreateContainer { container, host_port, start, .. } => {
                if container.role == ContainerRole::Ingress {
                    self.prepare_ingress()?;
                }
                let (id, port) = self.create_and_start(container, *host_port, *start).await?;
                if container.role == ContainerRole::Main && *start {
                    self.started_main_port = port.or(self.endpoint_port());
                    self.route_to(&id).await?;
                }
                if container.role == ContainerRole::Ingress && *start {
                    // A new endpoint: the runtime must answer through it.
                    self.started_main_port = port;
                }
            }
            Step::ReplaceContainer { old_id, old_name, container, host_port, strategy, .. } => {
                return match strategy {
                    ReplaceStrategy::StartFirst => self.replace_start_first(old_id, old_name, container).await,
                    ReplaceStrategy::StopFirst => self.replace_gated(old_id, container, *host_port).await,
                };
            }
            Step::RouteIngress { to, .. } => self.write_route(to)?,
            Step::RenameContainer { id, to, .. } => self.engine()?.rename_container(id, to).await?,
            Step::RemoveContainer { id, .. } => {
                self.engine()?.stop_container(id, STOP_TIMEOUT_SECS).await?;
                self.engine()?.remove_container(id).await?;
            }
            Step::StartContainer { id, name } => {
                self.engine()?.start_container(id).await?;
                if self.tp.desired.as_ref().is_some_and(|d| d.main().name == *name) {
                    self.started_main_port = self.tp.host_port;
                    self.route_to(id).await?;
                }
            }
            Step::StopContainer { id, .. } => self.engine()?.stop_container(id, STOP_TIMEOUT_SECS).await?,
            Step::UpdateLimits { id, to, .. } => self.engine()?.update_limits(id, to).await?,
            Step::ConnectNetwork { id, name, network, aliases } => {
                self.engine()?.connect_network(id, network, aliases).await?;
                // Attached again, the runtime may have another address there.
                if self.tp.desired.as_ref().is_some_and(|d| d.main().name == *name) {
                    self.route_to(id).await?;
                }
            }
            Step::DisconnectNetwork { id, network, .. } => self.engine()?.disconnect_network(id, network).await?,
            Step::SignalContainer { id, signal, .. } => self.engine()?.signal_container(id, signal).await?,
            Step::RestartContainer { id, .. } => self.engine()?.restart_container(id, STOP_TIMEOUT_SECS).await?,
            // Host files, not engine calls: done by `files_step`.
            Step::WriteFiles { .. } | Step::RemoveFiles => {}
            Step::ApplyObject { object, .. } => {
                self.cluster()?.apply_object(&self.tp.tenant, object, secrets).await?;
                if object.kind == ObjectKind::Deployment {
                    self.rolled_out = self.tp.desired.as_ref().is_some_and(|d| !d.suspended);
                }
            }
            Step::DeleteObject { kind, name, uid } => {
                self.cluster()?.delete_object(&self.tp.tenant, *kind, name, uid).await?
            }
        }
        Ok(None)
    }

    /// After all steps: a started runtime must answer its health check within its budget.
    async fn finish(self) -> TenantOutcome {
        if self.probe.is_some() || !self.ctx.wait.enabled {
            return TenantOutcome::new(ApplyFact::Applied, self.probe, true);
        }
        if self.rolled_out || self.started_main_port.is_some() {
            self.report(ExecEvent::WaitingHealthy { tenant: &self.tp.tenant });
        }
        if self.rolled_out {
            return match rollout::wait(self.runtime, self.tp, self.ctx.wait.max).await {
                Ok(()) => TenantOutcome::new(ApplyFact::Applied, None, true),
                Err(rollout::NotReady::Problem { message, image_pull }) => {
                    TenantOutcome::new(ApplyFact::Failed { message, image_pull }, None, true)
                }
                Err(rollout::NotReady::Runtime(e)) => {
                    let mut outcome =
                        TenantOutcome::new(ApplyFact::Failed { message: e.to_string(), image_pull: false }, None, true);
                    outcome.engine_unreachable = e.is_unreachable();
                    outcome
                }
            };
        }
        let (Some(port), Some(d)) = (self.started_main_port, &self.tp.desired) else {
            return TenantOutcome::new(ApplyFact::Applied, None, true);
        };
        match wait_healthy(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), d.main().health.as_ref(), self.ctx.wait.max)
            .await
        {
            Ok(()) => TenantOutcome::new(ApplyFact::Applied, Some(ProbeFact::Healthy), true),
            Err(last) => {
                TenantOutcome::new(ApplyFact::Failed { message: last, image_pull: false }, Some(ProbeFact::Down), true)
            }
        }
    }

    /// Stops the old container and sets it aside, starts the new one, and keeps the new one
    /// only when it becomes healthy; otherwise the old one comes back as it was. A step that
    /// fails on the way leaves the old one in `stopped`, for [`Self::restart_stopped`].
    async fn replace_gated(
        &mut self,
        old_id: &str,
        c: &DesiredContainer,
        host_port: Option<u16>,
    ) -> Result<Option<ApplyFact>, RuntimeError> {
        let rt = self.engine()?;
        // Noted first: a stop that fails half-way may still have stopped it.
        self.stopped.push(Stopped { id: old_id.to_string(), name: c.name.clone() });
        rt.stop_container(old_id, STOP_TIMEOUT_SECS).await?;
        rt.rename_container(old_id, &aside_name(&c.name)).await?;
        let (new_id, port) = self.create_and_start(c, host_port, true).await?;
        let gate = match (c.role == ContainerRole::Main, port, self.ctx.wait.enabled) {
            (true, Some(port), true) => {
                self.report(ExecEvent::WaitingHealthy { tenant: &self.tp.tenant });
                wait_healthy(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), c.health.as_ref(), self.ctx.wait.max).await
            }
            _ => Ok(()),
        };
        match gate {
            Ok(()) => {
                // From here on the new container is the tenant's: the old one is not brought
                // back, whatever happens next.
                self.stopped.retain(|s| s.id != old_id);
                rt.remove_container(old_id).await?;
                if c.role == ContainerRole::Main && port.is_some() && self.ctx.wait.enabled {
                    self.probe = Some(ProbeFact::Healthy);
                }
                Ok(None)
            }
            Err(reason) => {
                rt.stop_container(&new_id, STOP_TIMEOUT_SECS).await?;
                rt.remove_container(&new_id).await?;
                self.restart_stopped().await?;
                Ok(Some(ApplyFact::RolledBack { message: reason }))
            }
        }
    }

    /// Whether this plan creates the tenant's main container (a new tenant, or one whose runtime
    /// is gone): only then has the tenant no endpoint yet that a port change would move.
    fn creates_main(&self) -> bool {
        self.tp
            .steps
            .iter()
            .any(|s| matches!(s, Step::CreateContainer { container, .. } if container.role == ContainerRole::Main))
    }

    /// The host port of the tenant's endpoint when an ingress holds it.
    fn endpoint_port(&self) -> Option<u16> {
        self.tp.desired.as_ref().and_then(|d| d.ingress()).and(self.tp.host_port)
    }

    /// The tenant's ingress directory, when it has an ingress and this run may write host files.
    fn ingress_dir(&self) -> Option<&'a std::path::Path> {
        self.ctx.files.as_ref()?;
        self.tp.desired.as_ref()?.ingress_dir.as_deref()
    }

    fn prepare_ingress(&self) -> Result<(), RuntimeError> {
        match self.ingress_dir() {
            Some(dir) => ingress::prepare(dir).map_err(|e| host_error("prepare the ingress directory", e)),
            None => Ok(()),
        }
    }

    fn write_route(&self, to: &str) -> Result<(), RuntimeError> {
        match self.ingress_dir() {
            Some(dir) => ingress::write_route(dir, to).map_err(|e| host_error("point the ingress at the runtime", e)),
            None => Ok(()),
        }
    }

    /// `IP:port` of main container `id` on the tenant's network, when it has an address there.
    async fn main_address(&self, id: &str) -> Result<Option<String>, RuntimeError> {
        let Some(d) = self.tp.desired.as_ref() else { return Ok(None) };
        let Some(port) = d.main().port else { return Ok(None) };
        let ip = self.engine()?.address(id, &d.network.name).await?;
        Ok(ip.map(|ip| format!("{ip}:{port}")))
    }

    /// Points the ingress at main container `id`, just started.
    async fn route_to(&self, id: &str) -> Result<(), RuntimeError> {
        if self.ingress_dir().is_none() {
            return Ok(());
        }
        match self.main_address(id).await? {
            Some(to) => self.write_route(&to),
            None => Ok(()),
        }
    }

    /// Whether the tenant's ingress runs through this whole plan: none of its steps creates,
    /// starts or removes it.
    fn ingress_stays(&self) -> bool {
        let Some(name) = self.tp.desired.as_ref().and_then(|d| d.ingress()).map(|c| c.name.as_str()) else {
            return false;
        };
        !self.tp.steps.iter().any(|s| match s {
            Step::CreateContainer { name: n, .. } | Step::StartContainer { name: n, .. } => n == name,
            Step::RemoveContainer { name: n, .. } => n == name,
            _ => false,
        })
    }

    /// Replaces the main container behind the tenant's ingress without a moment of downtime:
    /// the old one is set aside still running, the new one starts and must pass its health
    /// check on its own address; only then does the ingress forward to it, and the old one
    /// finishes its requests (at most the drain deadline) and is stopped and removed. A new
    /// one that does not become healthy is removed; the old one never stopped.
    async fn replace_start_first(
        &mut self,
        old_id: &str,
        old_name: &str,
        c: &DesiredContainer,
    ) -> Result<Option<ApplyFact>, RuntimeError> {
        let rt = self.engine()?;
        let Some(d) = self.tp.desired.clone() else { return Ok(None) };
        let aside = aside_name(&c.name);
        if old_name != aside {
            rt.rename_container(old_id, &aside).await?;
        }
        let new_id = match self.create_and_start(c, None, true).await {
            Ok((id, _)) => id,
            Err(e) => {
                self.name_back(old_id, &c.name).await;
                return Err(e);
            }
        };
        let gate = self.gate_new(&new_id, c).await;
        let switched = match gate {
            Ok(to) => self.switch(old_id, &to, d.rollout.drain_ms).await,
            Err(reason) => Err(reason),
        };
        if let Err(reason) = switched {
            rt.stop_container(&new_id, STOP_TIMEOUT_SECS).await?;
            rt.remove_container(&new_id).await?;
            self.name_back(old_id, &c.name).await;
            return Ok(Some(ApplyFact::RolledBack { message: reason }));
        }
        rt.stop_container(old_id, STOP_TIMEOUT_SECS).await?;
        rt.remove_container(old_id).await?;
        if self.ctx.wait.enabled {
            self.probe = Some(ProbeFact::Healthy);
        }
        Ok(None)
    }

    /// The new main container's `IP:port` once it answers its health check there.
    async fn gate_new(&self, new_id: &str, c: &DesiredContainer) -> Result<String, String> {
        let to = match self.main_address(new_id).await {
            Ok(Some(to)) => to,
            Ok(None) => return Err(format!("the new container {} has no address on its network", c.name)),
            Err(e) => return Err(e.to_string()),
        };
        // Even without waits (`apply --no-wait`): the ingress is never pointed at a runtime not
        // yet healthy. Without host files (a plan run against the fake) there is no ingress.
        if self.ctx.wait.enabled || self.ingress_dir().is_some() {
            self.report(ExecEvent::WaitingHealthy { tenant: &self.tp.tenant });
            let addr: SocketAddr = to.parse().map_err(|_| format!("not an address: {to}"))?;
            wait_healthy(addr, c.health.as_ref(), self.ctx.wait.max).await?;
        }
        Ok(to)
    }

    /// Points the ingress at `to` and, when it runs, waits until it forwards there and the old
    /// container `old_id` has no request left (at most `drain_ms`). A running ingress that does
    /// not take the new route is pointed back at the old one.
    async fn switch(&self, old_id: &str, to: &str, drain_ms: u64) -> Result<(), String> {
        let Some(dir) = self.ingress_dir() else { return Ok(()) };
        let from = self.main_address(old_id).await.ok().flatten();
        self.write_route(to).map_err(|e| e.to_string())?;
        if !self.ingress_stays() {
            // The ingress comes later in this plan and starts with the new route.
            return Ok(());
        }
        if let Err(why) = ingress::wait_taken(dir, to, ingress::ACK_TIMEOUT).await {
            if let Some(from) = &from {
                if let Err(e) = self.write_route(from) {
                    tracing::warn!(tenant = %self.tp.tenant, error = %e, "cannot point the ingress back at the old runtime");
                }
            }
            return Err(why);
        }
        if let Some(from) = from {
            let left = ingress::drain(dir, &from, Duration::from_millis(drain_ms)).await;
            if left > 0 {
                tracing::warn!(tenant = %self.tp.tenant, in_flight = left, "drain deadline passed; stopping the old runtime");
            }
        }
        Ok(())
    }

    /// Gives a container set aside its name back; one that cannot get it still runs (a later
    /// plan renames it).
    async fn name_back(&self, id: &str, name: &str) {
        let renamed = match self.engine() {
            Ok(rt) => rt.rename_container(id, name).await,
            Err(e) => Err(e),
        };
        if let Err(e) = renamed {
            tracing::warn!(container = %name, error = %e, "cannot give a container set aside its name back");
        }
    }

    /// Brings every container this run stopped back under its name and starts it, each as far
    /// as it goes: one that cannot get its name back still runs (a later plan renames it).
    /// Returns their names; the first error of a start that failed.
    async fn restart_stopped(&mut self) -> Result<Vec<String>, RuntimeError> {
        let rt = self.engine()?;
        let mut first_error = None;
        let mut names = Vec::new();
        for s in std::mem::take(&mut self.stopped).into_iter().rev() {
            if let Err(e) = rt.rename_container(&s.id, &s.name).await {
                tracing::warn!(container = %s.name, error = %e, "cannot give a stopped container its name back");
            }
            match rt.start_container(&s.id).await {
                Ok(()) => names.push(s.name),
                Err(e) => {
                    tracing::warn!(container = %s.name, error = %e, "cannot start a stopped container again");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(names),
        }
    }

    /// Creates and (optionally) starts a container; when its host port turns out to be taken,
    /// removes it and tries the next free port in range. Returns its id and host port.
    async fn create_and_start(
        &self,
        c: &DesiredContainer,
        host_port: Option<u16>,
        start: bool,
    ) -> Result<(String, Option<u16>), RuntimeError> {
        let d = self.tp.desired.as_ref();
        let spec_hash = d.map(|d| d.spec_hash.as_str()).unwrap_or_default();
        let network = d.map(|d| d.network.name.as_str()).unwrap_or_default();
        let rt = self.engine()?;
        let mut port = host_port;
        let mut tried = BTreeSet::new();
        loop {
            let id = rt.create_container(&self.tp.tenant, spec_hash, c, network, port).await?;
            if !start {
                return Ok((id, port));
            }
            let started = rt.start_container(&id).await;
            if started.is_err() {
                // A container that cannot start is of no use, and holds the name.
                if let Err(e) = rt.remove_container(&id).await {
                    tracing::warn!(container = %c.name, error = %e, "cannot remove a container that did not start");
                }
            }
            match started {
                Ok(()) => return Ok((id, port)),
                // The ingress of a tenant that already runs holds its endpoint: another port
                // would change the tenant's URL. It waits for its own.
                Err(e @ RuntimeError::PortInUse { .. }) if c.role == ContainerRole::Ingress && !self.creates_main() => {
                    return Err(e)
                }
                Err(RuntimeError::PortInUse { port: taken }) if tried.len() < 8 => {
                    tried.insert(taken);
                    let range = self.ctx.port_range.clone();
                    let next = range
                        .into_iter()
                        .find(|p| *p > taken && !self.ctx.held.contains(p) && !tried.contains(p) && host_port_free(*p));
                    port = Some(next.ok_or(RuntimeError::PortInUse { port: taken })?);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A failure on the host's side of the ingress, as the runtime error a step returns.
fn host_error(operation: &str, e: crate::hostdir::HostDirError) -> RuntimeError {
    RuntimeError::Engine { operation: operation.to_string(), message: e.to_string() }
}
