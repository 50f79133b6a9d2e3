//! One pass over the instance, as `tenantd plan`, `tenantd apply` and the daemon run it:
//! load → observe → plan, then, to converge, execute → observe again → status. Callers are
//! wiring around it: they choose what the pass starts from ([`PassMemory`]), its scope and its
//! mode, and act on the result.
//!
//! The commands start every pass from an empty memory. The daemon keeps its memory between
//! passes (specs read off its loop, the world as last observed, the status files as last read)
//! and runs in [`PassMode::HandOver`]: the plan comes back to it, and it runs each tenant's part
//! in a worker of its own, so that a slow tenant never holds up the others.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::execute::{execute_with, ExecContext, WaitPolicy};
use super::files::FileDelivery;
use super::lock::StateLock;
use super::observe_after::observe_after;
use super::outcome::TenantOutcome;
use super::prepare::{endpoints_of, observe_some, plan_scoped, rolled_back_of, Desired, KnownState, PassOptions};
use super::probe::probe_running;
use super::progress::ProgressSink;
use super::status::{write_statuses, PassFacts};
use super::{owner, ReconcileError};
use crate::config::DaemonConfig;
use crate::plan::Plan;
use crate::ports::PortAssignments;
use crate::runtime::{ObservedWorld, Runtime};
use crate::spec::TenantName;
use crate::status::{StatusStore, TenantStatus};

/// Asked once the plan is known: who hears how each tenant's execution goes, if anyone.
pub type ProgressFor = Box<dyn FnOnce(&Plan) -> Option<ProgressSink> + Send>;

/// What a pass starts from and leaves behind. A command starts from the default (nothing known:
/// everything is read and observed); the daemon keeps one between passes.
#[derive(Debug, Default)]
pub struct PassMemory {
    /// The specs last read; a pass that reads them again takes over the files unchanged since.
    pub desired: Option<Desired>,
    /// The instance as last observed: wholly by a full pass, tenant by tenant by a targeted one.
    pub world: ObservedWorld,
    /// The status files as last read; `None`: the pass reads them (for the rolled-back specs).
    pub statuses: Option<BTreeMap<TenantName, TenantStatus>>,
}

/// Which tenants a pass looks at, and whether it reads the specs.
#[derive(Debug, Clone, Default)]
pub struct PassScope {
    /// `None`: every tenant, observed in one go. `Some`: these alone, each observed on its own;
    /// other tenants are neither asked about nor planned.
    pub only: Option<BTreeSet<TenantName>>,
    /// Use the specs in memory rather than read the directory (the daemon reads them off its
    /// loop before the pass). Without specs in memory, they are read anyway.
    pub specs_read: bool,
    pub opts: PassOptions,
}

/// What a pass does once it has planned.
pub enum PassMode {
    /// Plan only: nothing is changed, no owner is recorded, no lock is taken.
    Preview,
    /// Converge every tenant in scope, holding the state directory's lock and claiming the
    /// instance; then observe again and write every status.
    Converge { wait: WaitPolicy, progress: ProgressFor },
    /// Claim the instance and bring the host rules in line (a full pass), as converging does,
    /// and hand the plan back with what its execution needs: the caller holds the lock and
    /// runs the tenants' plans itself.
    HandOver { wait: WaitPolicy },
}

/// What a pass found and did.
#[derive(Debug)]
pub struct PassResult {
    pub ports: PortAssignments,
    pub plan: Plan,
    /// Per tenant that was executed; empty unless the pass converged.
    pub outcomes: BTreeMap<TenantName, TenantOutcome>,
    /// What executing the plan needs (ports held, file delivery); set when handed over.
    pub exec: Option<ExecContext>,
}

/// Runs one pass in `mode` over `scope`, starting from and updating `memory`.
pub async fn run_pass(
    cfg: &DaemonConfig,
    runtime: &dyn Runtime,
    memory: &mut PassMemory,
    scope: PassScope,
    mode: PassMode,
) -> Result<PassResult, ReconcileError> {
    let _lock = match mode {
        PassMode::Converge { .. } => Some(StateLock::acquire(&cfg.state_dir)?),
        _ => None,
    };
    match mode {
        PassMode::Preview => owner::check(runtime, &cfg.instance, &cfg.state_dir).await?,
        _ => owner::claim(runtime, &cfg.instance, &cfg.state_dir).await?,
    }
    // Load.
    if !scope.specs_read || memory.desired.is_none() {
        let read = match &memory.desired {
            Some(previous) => Desired::reload(cfg, scope.opts, previous)?,
            None => Desired::load(cfg, scope.opts)?,
        };
        memory.desired = Some(read);
    }
    let desired: &Desired = memory.desired.get_or_insert_with(Desired::default);
    // Observe, with the status files that record rolled-back specs.
    match &scope.only {
        None => {
            memory.world =
                runtime.observe(&desired.images(), &desired.names()).await.map_err(ReconcileError::Runtime)?
        }
        Some(names) => {
            observe_some(runtime, &mut memory.world, names, desired).await.map_err(ReconcileError::Runtime)?
        }
    }
    let read_statuses;
    let statuses = match &memory.statuses {
        Some(statuses) => statuses,
        None => {
            read_statuses = StatusStore::new(cfg.status_dir()).read_all().unwrap_or_default();
            &read_statuses
        }
    };
    let rolled_back = rolled_back_of(statuses);
    let endpoints = endpoints_of(statuses);
    if scope.only.is_none() && !matches!(mode, PassMode::Preview) {
        // Before anything changes, and on every full pass whatever happened to them meanwhile (a
        // reboot, a flush): the host rules for the networks there are now.
        runtime.sync_host_rules().await.map_err(ReconcileError::Runtime)?;
    }
    // Plan (pure, apart from the host's free ports and the delivered files).
    let known = KnownState { rolled_back: &rolled_back, endpoints: &endpoints };
    let (ports, plan) = plan_scoped(cfg, desired, &memory.world, known, scope.opts, scope.only.as_ref())?;
    let (wait, progress) = match mode {
        PassMode::Preview => return Ok(PassResult { ports, plan, outcomes: BTreeMap::new(), exec: None }),
        PassMode::HandOver { wait } => {
            let exec = exec_context(cfg, &plan, &memory.world, wait, None);
            return Ok(PassResult { ports, plan, outcomes: BTreeMap::new(), exec: Some(exec) });
        }
        PassMode::Converge { wait, progress } => (wait, progress),
    };
    let sink = progress(&plan);
    let exec = exec_context(cfg, &plan, &memory.world, wait, sink);
    let (outcomes, after) = converge(cfg, runtime, desired, &memory.world, &plan, &exec).await?;
    if let Some(after) = after {
        memory.world = after;
    }
    Ok(PassResult { ports, plan, outcomes, exec: None })
}

/// Execute → observe again → status. Returns the world observed after, when anything changed.
async fn converge(
    cfg: &DaemonConfig,
    runtime: &dyn Runtime,
    desired: &Desired,
    before: &ObservedWorld,
    plan: &Plan,
    exec: &ExecContext,
) -> Result<(BTreeMap<TenantName, TenantOutcome>, Option<ObservedWorld>), ReconcileError> {
    let outcomes = execute_with(runtime, plan, cfg.concurrency, exec).await;
    let changed: Vec<_> = outcomes.iter().filter(|(_, o)| o.mutated).map(|(t, _)| t.clone()).collect();
    let after = observe_after(runtime, before, &changed).await.map_err(ReconcileError::Runtime)?;
    let probes = probe_running(&desired.tenants, &after).await;
    let engine = runtime.engine();
    let store = StatusStore::new(cfg.status_dir());
    let facts = PassFacts { desired, before, outcomes: &outcomes, after: &after, probes: &probes };
    write_statuses(&store, facts, engine.as_ref(), OffsetDateTime::now_utc())?;
    let after = match after {
        Cow::Owned(world) => Some(world),
        Cow::Borrowed(_) => None,
    };
    Ok((outcomes, after))
}

/// What every tenant's execution shares: the ports the plan hands out and those the world holds
/// (never taken by a retry), and where runtime files go.
fn exec_context(
    cfg: &DaemonConfig,
    plan: &Plan,
    world: &ObservedWorld,
    wait: WaitPolicy,
    progress: Option<ProgressSink>,
) -> ExecContext {
    let mut exec = ExecContext::for_plan(plan, &cfg.port_range, wait);
    std::sync::Arc::make_mut(&mut exec.held).extend(world.host_ports().into_values());
    exec.files = Some(FileDelivery::new(cfg));
    exec.progress = progress;
    exec
}
