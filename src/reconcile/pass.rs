//! One pass over the instance, as `tenantd plan` and `tenantd apply` run it: load → observe →
//! plan, then, to converge, execute → observe again → status. Commands are wiring around it:
//! they choose the mode and print the result.
//!
//! The daemon runs the same stages ([`super::Desired`], [`super::plan_scoped`],
//! [`super::execute_tenant`], [`crate::status::derive`]) from its own loop, because it reads
//! specs off the loop, runs one worker per tenant and writes each status as its worker ends.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::execute::{execute_reporting, WaitPolicy};
use super::files::FileDelivery;
use super::lock::StateLock;
use super::observe_after::observe_after;
use super::outcome::TenantOutcome;
use super::prepare::{prepare, prepare_only, PassOptions, Prepared};
use super::probe::probe_running;
use super::progress::ProgressSink;
use super::status::write_statuses;
use super::{owner, ReconcileError};
use crate::config::DaemonConfig;
use crate::plan::Plan;
use crate::runtime::Runtime;
use crate::spec::TenantName;
use crate::status::StatusStore;

/// Asked once the plan is known: who hears how each tenant's execution goes, if anyone.
pub type ProgressFor = Box<dyn FnOnce(&Plan) -> Option<ProgressSink> + Send>;

/// What a pass does once it has planned.
pub enum PassMode {
    /// Plan only: nothing is changed, no owner is recorded, no lock is taken. `only` plans those
    /// tenants alone, each observed on its own.
    Preview { only: Option<BTreeSet<TenantName>> },
    /// Converge every tenant, holding the state directory's lock and claiming the instance.
    Converge { wait: WaitPolicy, progress: ProgressFor },
}

/// What a pass found and did.
#[derive(Debug)]
pub struct PassResult {
    pub prepared: Prepared,
    /// Per tenant that was planned; empty for a preview.
    pub outcomes: BTreeMap<TenantName, TenantOutcome>,
}

/// Runs one pass in `mode`.
pub async fn run_pass(
    cfg: &DaemonConfig,
    runtime: &dyn Runtime,
    opts: PassOptions,
    mode: PassMode,
) -> Result<PassResult, ReconcileError> {
    let (wait, progress) = match mode {
        PassMode::Preview { only } => {
            owner::check(runtime, &cfg.instance, &cfg.state_dir).await?;
            let prepared = match &only {
                None => prepare(cfg, runtime, opts).await?,
                Some(only) => prepare_only(cfg, runtime, opts, only).await?,
            };
            return Ok(PassResult { prepared, outcomes: BTreeMap::new() });
        }
        PassMode::Converge { wait, progress } => (wait, progress),
    };
    let _lock = StateLock::acquire(&cfg.state_dir)?;
    owner::claim(runtime, &cfg.instance, &cfg.state_dir).await?;
    let prepared = prepare(cfg, runtime, opts).await?;
    // Before anything changes: the host rules for the networks there are now.
    runtime.sync_host_rules().await.map_err(ReconcileError::Runtime)?;
    let sink = progress(&prepared.plan);
    let files = Some(FileDelivery::new(cfg));
    let outcomes =
        execute_reporting(runtime, &prepared.plan, cfg.concurrency, &cfg.port_range, wait, files, sink).await;

    let changed: Vec<_> = outcomes.iter().filter(|(_, o)| o.mutated).map(|(t, _)| t.clone()).collect();
    let after = observe_after(runtime, &prepared.observed, &changed).await.map_err(ReconcileError::Runtime)?;
    let probes = probe_running(&prepared.desired.tenants, &after).await;
    let store = StatusStore::new(cfg.status_dir());
    let engine = runtime.engine();
    write_statuses(&store, &prepared, &outcomes, &after, &probes, engine.as_ref(), OffsetDateTime::now_utc())?;
    Ok(PassResult { prepared, outcomes })
}
