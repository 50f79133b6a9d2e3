//! The controller loop: turns triggers into passes, passes into per-tenant workers, and worker
//! results, probes and samples into status files.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::metrics::{Metrics, ReconcileResult};
use super::notify::Notifier;
use super::record::{Action, Dispatch, Event, PlanFacts, ProbeDecision, TenantRecord, WorkerEnd};
use super::triggers::Trigger;
use super::worker::{self, WorkerDone};
use crate::config::DaemonConfig;
use crate::health::{probe, ProbeOutcome};
use crate::plan::TenantPlan;
use crate::reconcile::{
    owner, run_pass, Desired, ExecContext, PassMemory, PassMode, PassOptions, PassScope, ReconcileError, WaitPolicy,
    STOP_TIMEOUT_SECS,
};
use crate::render::{ContainerRole, DesiredTenant};
use crate::runtime::{ContainerState, Family, ObservedTenant, ObservedWorld, ResourceSample, Runtime};
use crate::spec::TenantName;
use crate::status::{
    derive, ApplyFact, BackoffFact, DaemonFacts, Facts, Phase, ProbeFact, SpecFact, StatusStore, TenantStatus,
};

/// How often the loop wakes on its own (health probes, samples, watchdog) when nothing happens.
const TICK: Duration = Duration::from_millis(250);

/// Results of background probes and samples.
#[derive(Debug)]
pub enum Observation {
    Probe { tenant: TenantName, outcome: ProbeOutcome },
    Sample { tenant: TenantName, sample: Option<ResourceSample>, nano_cpus: i64 },
    Restarted { tenant: TenantName, result: Result<(), String> },
}

/// Specs read off the loop, for the pass that asked for them (`only`: a targeted one).
#[derive(Debug)]
pub struct Loaded {
    only: Option<BTreeSet<TenantName>>,
    result: Result<Desired, ReconcileError>,
}

pub struct Controller {
    pub cfg: DaemonConfig,
    pub runtime: Arc<dyn Runtime>,
    pub notifier: Arc<Notifier>,
    pub metrics: Metrics,
    pub opts: PassOptions,
    store: StatusStore,
    permits: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<WorkerDone>,
    pub done_rx: mpsc::UnboundedReceiver<WorkerDone>,
    obs_tx: mpsc::UnboundedSender<Observation>,
    pub obs_rx: mpsc::UnboundedReceiver<Observation>,
    load_tx: mpsc::UnboundedSender<Loaded>,
    pub load_rx: mpsc::UnboundedReceiver<Loaded>,
    /// Specs are being read on a blocking thread: one read at a time, and the loop goes on
    /// meanwhile (probes, engine events, signals, the watchdog), whatever one file costs.
    loading: bool,
    /// What passes start from: the specs last read, the world as last observed (fully or per
    /// tenant) and the status files as last read or written.
    memory: PassMemory,
    /// What the daemon keeps about each tenant between passes.
    records: BTreeMap<TenantName, TenantRecord>,
    /// Tenants to look at in the next targeted pass.
    pub dirty: BTreeSet<TenantName>,
    pub files_due: Option<Instant>,
    pub full_due: Option<Instant>,
    next_resync: Instant,
    next_stats: Instant,
    /// When supervision, sampling and reporting next look at every tenant.
    next_tick: Instant,
    engine_retry: Duration,
    engine_down: Option<String>,
    /// Why the last pass refused to go on (an emptied tenants directory, a status directory it
    /// cannot write): said once per distinct reason, and no targeted pass runs meanwhile.
    pass_error: Option<String>,
    /// Set while another state directory owns the instance: nothing is changed, not even a
    /// restart of a runtime that stopped answering.
    not_owner: Option<String>,
    last_status_line: String,
    /// Spec files no tenant could be told from, with their errors, as last logged.
    unattributed: BTreeMap<std::path::PathBuf, Vec<String>>,
    last_watchdog: Option<Instant>,
    /// Set when the daemon stops: queued workers then end without starting.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Controller {
    pub fn new(
        cfg: DaemonConfig,
        runtime: Arc<dyn Runtime>,
        notifier: Arc<Notifier>,
        metrics: Metrics,
        opts: PassOptions,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (obs_tx, obs_rx) = mpsc::unbounded_channel();
        let (load_tx, load_rx) = mpsc::unbounded_channel();
        let store = StatusStore::new(cfg.status_dir());
        if let Err(e) = store.prepare() {
            tracing::error!(error = %e, "cannot prepare the status directory; reconciling goes on");
        }
        let statuses = store.read_all().unwrap_or_default();
        let now = Instant::now();
        Self {
            permits: Arc::new(Semaphore::new(cfg.concurrency)),
            next_resync: now + cfg.daemon.resync_interval,
            next_stats: now + cfg.daemon.stats_interval,
            next_tick: now,
            cfg,
            runtime,
            notifier,
            metrics,
            opts,
            store,
            done_tx,
            done_rx,
            obs_tx,
            obs_rx,
            load_tx,
            load_rx,
            loading: false,
            memory: PassMemory { desired: None, world: ObservedWorld::default(), statuses: Some(statuses) },
            records: BTreeMap::new(),
            dirty: BTreeSet::new(),
            files_due: None,
            full_due: Some(now),
            engine_retry: Duration::from_secs(1),
            engine_down: None,
            pass_error: None,
            not_owner: None,
            last_status_line: String::new(),
            unattributed: BTreeMap::new(),
            last_watchdog: None,
            stopping: Arc::default(),
        }
    }

    /// Replaces the config (SIGHUP); a full pass follows.
    pub fn reconfigure(&mut self, cfg: DaemonConfig) {
        self.permits = Arc::new(Semaphore::new(cfg.concurrency));
        self.store = StatusStore::new(cfg.status_dir());
        if let Err(e) = self.store.prepare() {
            tracing::error!(error = %e, "cannot prepare the status directory; reconciling goes on");
        }
        self.cfg = cfg;
        self.full_due = Some(Instant::now());
    }

    /// Notes a trigger; the work happens in `step`.
    pub fn trigger(&mut self, t: Trigger) {
        let now = Instant::now();
        match t {
            Trigger::Files => {
                // Debounced: read once the directory has been quiet for a moment.
                self.files_due = Some(now + self.cfg.daemon.debounce);
            }
            Trigger::Tenant(name) => {
                self.dirty.insert(name);
            }
            Trigger::Container(id) => {
                // Anyone's container may be attached to any network: only this instance's matter.
                let owner = self.memory.world.tenants.iter().find(|(_, t)| t.containers.iter().any(|c| c.id == id));
                if let Some((name, _)) = owner {
                    self.dirty.insert(name.clone());
                }
            }
            Trigger::Everything => self.full_due = Some(now),
            Trigger::EngineLost(why) => tracing::warn!(reason = %why, "engine event stream lost; subscribing again"),
        }
    }

    /// The instant the loop must wake by.
    pub fn next_wake(&self) -> Instant {
        let mut wake = self.next_tick;
        // A full pass due while specs are being read waits for that read to end, not for a time.
        let full_due = self.full_due.filter(|_| !self.loading);
        for t in [self.files_due, full_due].into_iter().flatten() {
            wake = wake.min(t);
        }
        wake.min(self.next_resync)
    }

    /// Does whatever is due now. Returns after dispatching work; it never waits for a tenant.
    pub async fn step(&mut self) {
        let now = Instant::now();
        if now >= self.next_resync {
            self.full_due = Some(now);
            self.next_resync = now + self.cfg.daemon.resync_interval;
        }
        if self.files_due.is_some_and(|t| now >= t) {
            self.files_due = None;
            self.full_due = Some(now);
        }
        if self.full_due.is_some_and(|t| now >= t) && !self.loading {
            self.full_due = None;
            self.dirty.clear();
            self.pass(None).await;
        } else if !self.dirty.is_empty() && self.engine_down.is_none() && self.pass_error.is_none() {
            let dirty = std::mem::take(&mut self.dirty);
            self.pass(Some(dirty)).await;
        }
        // Supervision and reporting look at every tenant: once per tick, not once per message,
        // so a burst of a thousand results costs a thousand cheap updates and one sweep.
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.retry_backoffs(now);
            self.supervise(now);
            if now >= self.next_stats {
                self.next_stats = now + self.cfg.daemon.stats_interval;
                self.sample();
            }
            self.report();
        }
    }

    /// Load → observe → plan, then one worker per tenant that needs one. `only`: a targeted
    /// pass over these tenants (observed and planned one by one); `None`: everything. When the
    /// specs must be read, they are read on a blocking thread and the pass goes on in
    /// [`Controller::loaded`].
    async fn pass(&mut self, only: Option<BTreeSet<TenantName>>) {
        // A targeted pass (an engine event) reuses the specs of the last read while the watch
        // has reported no change to the directory since: reading a thousand specs for every
        // event would cost more than everything else. Full passes always read the files.
        let reuse = only.is_some() && self.files_due.is_none() && self.memory.desired.is_some();
        if reuse {
            return self.pass_with_specs(only).await;
        }
        if self.loading {
            // One read at a time; these tenants are looked at once it is done.
            self.dirty.extend(only.into_iter().flatten());
            return;
        }
        self.loading = true;
        let (cfg, opts, previous, tx) =
            (self.cfg.clone(), self.opts, self.memory.desired.clone(), self.load_tx.clone());
        tokio::task::spawn_blocking(move || {
            // Files unchanged since the last read are taken over, not read again.
            let result = match &previous {
                Some(previous) => Desired::reload(&cfg, opts, previous),
                None => Desired::load(&cfg, opts),
            };
            let _ = tx.send(Loaded { only, result });
        });
    }

    /// The specs a pass asked for have been read: observe, plan and dispatch.
    pub async fn loaded(&mut self, loaded: Loaded) {
        self.loading = false;
        match loaded.result {
            Ok(d) => {
                tracing::debug!(valid = d.sources.len(), invalid = d.invalid_files.len(), "spec files read");
                self.memory.desired = Some(d);
            }
            Err(e) => return self.pass_failed(&e),
        }
        self.pass_with_specs(loaded.only).await;
    }

    /// Observe → plan → dispatch, with the specs last read: the one pass, handing each
    /// tenant's plan to a worker of its own.
    async fn pass_with_specs(&mut self, only: Option<BTreeSet<TenantName>>) {
        if self.memory.desired.is_none() {
            return;
        }
        let full = only.is_none();
        let unreadable = if full { self.refresh_statuses() } else { BTreeSet::new() };
        let scope = PassScope { only, specs_read: true, opts: self.opts };
        let mode = PassMode::HandOver { wait: WaitPolicy { enabled: true, max: Duration::from_secs(300) } };
        // The owner is checked on every pass: a state directory that took the instance over
        // since is obeyed at once, and a marker removed behind tenantd's back is recorded again.
        // Every full pass puts the host rules back as the networks are; nothing is changed
        // while that fails.
        let pass = match run_pass(&self.cfg, self.runtime.as_ref(), &mut self.memory, scope, mode).await {
            Ok(pass) => pass,
            Err(ReconcileError::Owner(e @ owner::OwnerError::NotOwner { .. })) => {
                let message = e.to_string();
                if self.not_owner.as_deref() != Some(message.as_str()) {
                    tracing::error!(error = %message, "not this state directory's instance; changing nothing");
                }
                self.not_owner = Some(message);
                self.full_due = Some(Instant::now() + self.cfg.daemon.resync_interval.min(Duration::from_secs(30)));
                return;
            }
            Err(ReconcileError::Owner(owner::OwnerError::Runtime { source, .. })) => {
                return self.pass_failed(&ReconcileError::Runtime(source))
            }
            Err(e) => return self.pass_failed(&e),
        };
        if self.not_owner.take().is_some() {
            tracing::info!("this state directory owns the instance again");
        }
        if self.engine_down.take().is_some() {
            tracing::info!("engine answers again");
        }
        self.engine_retry = Duration::from_secs(1);
        if self.pass_error.take().is_some() {
            tracing::info!("passes go through again");
        }
        self.log_unattributed();
        if let Some(ctx) = pass.exec {
            for tp in pass.plan.tenants {
                self.dispatch(tp, &ctx);
            }
        }
        // A status file that held no status and that nothing above wrote yet (its tenant waits
        // out a backoff, or is gone): written now from what is known. A worker writes its own.
        for name in unreadable {
            if !self.in_flight(&name) && !self.statuses().contains_key(&name) {
                self.write_status(&name, ApplyFact::NothingToDo, None);
            }
        }
        if full {
            // Reading every spec leaves megabytes free but resident.
            super::memory::release_free_memory();
        }
    }

    /// Spec files no tenant can be told from: said once per file and error until either
    /// changes, not on every pass.
    fn log_unattributed(&mut self) {
        let Some(desired) = self.memory.desired.as_ref() else { return };
        let mut unattributed = BTreeMap::new();
        for i in desired.unattributed() {
            let errors: Vec<String> = i.errors.iter().map(|e| e.to_string()).collect();
            if self.unattributed.get(&i.path) != Some(&errors) {
                tracing::error!(file = %i.path.display(), ?errors, "spec file cannot be attributed to a tenant; deletions are held back");
            }
            unattributed.insert(i.path.clone(), errors);
        }
        self.unattributed = unattributed;
    }

    /// The status files as last read or written.
    fn statuses(&self) -> &BTreeMap<TenantName, TenantStatus> {
        static NONE: BTreeMap<TenantName, TenantStatus> = BTreeMap::new();
        self.memory.statuses.as_ref().unwrap_or(&NONE)
    }

    /// A full pass takes the status files as they are on disk, so that one changed, removed
    /// or corrupted behind the daemon's back is written again rather than taken as written;
    /// modes an earlier version left wider are narrowed. Returns the tenants whose file holds
    /// no status.
    fn refresh_statuses(&mut self) -> BTreeSet<TenantName> {
        if let Err(e) = self.store.prepare() {
            tracing::error!(error = %e, "cannot prepare the status directory; reconciling goes on");
        }
        match self.store.list() {
            Ok(listing) => {
                for (name, error) in &listing.unreadable {
                    tracing::warn!(tenant = %name, %error, "status file holds no status; writing it anew");
                }
                self.memory.statuses = Some(listing.statuses);
                listing.unreadable.into_keys().collect()
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the status directory; reconciling goes on");
                BTreeSet::new()
            }
        }
    }

    fn pass_failed(&mut self, e: &ReconcileError) {
        match e {
            ReconcileError::Runtime(re) if re.is_unreachable() => {
                self.engine_unreachable(re.to_string());
            }
            other => {
                let message = other.to_string();
                if self.pass_error.as_deref() != Some(message.as_str()) {
                    tracing::error!(error = %message, "pass failed; nothing was changed; trying again with backoff");
                }
                self.pass_error = Some(message);
                self.engine_down = None;
            }
        }
        // Whatever failed is tried again, with a growing delay rather than in a tight loop.
        self.full_due = Some(Instant::now() + self.engine_retry);
        self.engine_retry = (self.engine_retry * 2).min(Duration::from_secs(30));
    }

    /// The engine cannot be reached: said once per distinct reason, kept for the status line.
    fn engine_unreachable(&mut self, msg: String) {
        if self.engine_down.as_deref() != Some(msg.as_str()) {
            tracing::error!(error = %msg, "engine unreachable; status files keep their last known state");
        }
        self.engine_down = Some(msg);
    }

    /// Decides what to do about one tenant's plan, and does it.
    fn dispatch(&mut self, tp: TenantPlan, ctx: &ExecContext) {
        let name = tp.tenant.clone();
        let facts = PlanFacts::of(&tp);
        let action = self.records.entry(name.clone()).or_default().next(Event::Planned(&facts), Instant::now());
        let Action::Dispatch(decision) = action else { return };
        match decision {
            Dispatch::Queue | Dispatch::WaitApplyBackoff => {}
            Dispatch::Blocked => {
                if let Some(b) = &tp.blocked {
                    self.metrics.reconcile_done(ReconcileResult::Blocked, Duration::ZERO);
                    self.write_status(&name, ApplyFact::Blocked(b.clone()), None);
                }
            }
            // A pass that found the tenant as its spec says: a reconcile that changed nothing.
            Dispatch::NothingToDo => {
                self.metrics.reconcile_done(ReconcileResult::Noop, Duration::ZERO);
                self.write_status(&name, ApplyFact::NothingToDo, None);
            }
            // Its runtime is down meanwhile: the status says so, and when it is tried again.
            Dispatch::HoldCrashBackoff => {
                self.write_status(&name, ApplyFact::NothingToDo, None);
            }
            Dispatch::Spawn { replacing } => {
                if replacing {
                    // Until the worker is done, the tenant is neither the running one observed
                    // before nor failed: its status says it is on its way.
                    self.write_status(&name, ApplyFact::NothingToDo, None);
                }
                worker::spawn(
                    self.runtime.clone(),
                    self.permits.clone(),
                    tp,
                    ctx.clone(),
                    self.done_tx.clone(),
                    self.stopping.clone(),
                );
            }
        }
    }

    /// A worker finished.
    pub fn worker_done(&mut self, done: WorkerDone) {
        let name = done.tenant.clone();
        let end = if !done.started {
            WorkerEnd::NotStarted
        } else if done.outcome.engine_unreachable {
            WorkerEnd::EngineUnreachable
        } else {
            WorkerEnd::Finished { fact: &done.outcome.fact, spec_hash: done.spec_hash.as_deref(), probe: done.probe }
        };
        let action = self.records.entry(name.clone()).or_default().next(Event::WorkerDone(end), Instant::now());
        if let WorkerEnd::EngineUnreachable = end {
            // Nothing is known about the tenant: its status keeps the last known state, and a
            // full pass follows once the engine answers.
            if let ApplyFact::Failed { message, .. } = &done.outcome.fact {
                if self.engine_down.is_none() {
                    self.engine_unreachable(message.clone());
                }
            }
            self.full_due = Some(Instant::now() + self.engine_retry);
        }
        let Action::Settle(settled) = action else { return };
        match &done.outcome.fact {
            ApplyFact::Failed { message, .. } => {
                let retry_in_s = settled.retry_in.unwrap_or_default().as_secs();
                tracing::warn!(tenant = %name, error = %message, retry_in_s, "tenant did not converge");
            }
            ApplyFact::RolledBack { message } => {
                tracing::warn!(tenant = %name, reason = %message, "replacement rolled back");
            }
            ApplyFact::Applied if done.change.is_change() => {
                // The journal tells what tenantd did, not only what went wrong.
                tracing::info!(tenant = %name, change = ?done.change, what = %done.reasons.join("; "), "tenant converged");
            }
            _ => {}
        }
        self.metrics.reconcile_done(settled.result, done.duration);
        match done.after {
            Ok(Some(t)) => {
                self.memory.world.tenants.insert(name.clone(), t);
            }
            Ok(None) => {
                self.memory.world.tenants.remove(&name);
            }
            Err(e) => tracing::warn!(tenant = %name, error = %e, "cannot observe tenant after reconcile"),
        }
        self.write_status(&name, done.outcome.fact, done.probe);
        if settled.look_again {
            self.dirty.insert(name);
        }
    }

    /// Tenants whose apply backoff ended get another pass.
    fn retry_backoffs(&mut self, now: Instant) {
        for (name, r) in &self.records {
            if r.retry_due(now) {
                self.dirty.insert(name.clone());
            }
        }
    }

    /// Probes running runtimes whose interval has passed; restarts one that stayed down.
    fn supervise(&mut self, now: Instant) {
        if self.not_owner.is_some() {
            return;
        }
        let Some(desired) = &self.memory.desired else { return };
        for (name, d) in &desired.tenants {
            let Some(health) = d.main().health.as_ref() else { continue };
            let Some(observed) = self.memory.world.tenants.get(name) else { continue };
            let (Some(oc), Some(port)) = (observed.container(&ContainerRole::Main), observed.serving_port()) else {
                continue;
            };
            let Action::Supervise(decision) =
                self.records.entry(name.clone()).or_default().next(Event::ProbeDue(health), now)
            else {
                continue;
            };
            match decision {
                ProbeDecision::Nothing => {}
                ProbeDecision::Restart => {
                    self.metrics.restart(name.as_str());
                    tracing::warn!(tenant = %name, failed_probes = health.retries, "runtime stayed unhealthy; restarting its container");
                    let (rt, tx, id, tenant) = (self.runtime.clone(), self.obs_tx.clone(), oc.id.clone(), name.clone());
                    tokio::spawn(async move {
                        let result = match rt.containers("restart a container (the cluster restarts its pods)") {
                            Ok(engine) => engine.restart_container(&id, STOP_TIMEOUT_SECS).await,
                            Err(e) => Err(e),
                        };
                        let result = result.map_err(|e| e.to_string());
                        let _ = tx.send(Observation::Restarted { tenant, result });
                    });
                }
                ProbeDecision::Probe => {
                    let (tx, tenant, path) = (self.obs_tx.clone(), name.clone(), health.path.clone());
                    let timeout = Duration::from_millis(health.timeout_ms);
                    tokio::spawn(async move {
                        let outcome = probe(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), &path, timeout).await;
                        let _ = tx.send(Observation::Probe { tenant, outcome });
                    });
                }
            }
        }
    }

    /// Samples CPU and memory of every running main container.
    fn sample(&mut self) {
        // A cluster's containers are not sampled (no metrics API is used).
        if !matches!(self.runtime.family(), Family::Containers(_)) {
            return;
        }
        let Some(desired) = &self.memory.desired else { return };
        for (name, d) in &desired.tenants {
            let Some(oc) = self.memory.world.tenants.get(name).and_then(|t| t.container(&ContainerRole::Main)) else {
                continue;
            };
            if oc.state != ContainerState::Running {
                continue;
            }
            if self.records.entry(name.clone()).or_default().next(Event::SampleDue, Instant::now()) != Action::Sample {
                continue;
            }
            let (rt, tx, id, tenant, nano_cpus) =
                (self.runtime.clone(), self.obs_tx.clone(), oc.id.clone(), name.clone(), d.main().limits.nano_cpus);
            tokio::spawn(async move {
                let sample = match rt.containers("sample a container") {
                    Ok(engine) => engine.stats(&id).await.ok(),
                    Err(_) => None,
                };
                let _ = tx.send(Observation::Sample { tenant, sample, nano_cpus });
            });
        }
    }

    /// A probe, sample or restart finished.
    pub fn observed(&mut self, o: Observation) {
        let now = Instant::now();
        match o {
            Observation::Probe { tenant, outcome } => {
                let action = self.records.entry(tenant.clone()).or_default().next(Event::Probed(&outcome), now);
                let (verdict, latency) = match &outcome {
                    ProbeOutcome::Healthy { latency } => ("healthy", *latency),
                    ProbeOutcome::Degraded { latency, .. } => ("degraded", *latency),
                    ProbeOutcome::Down { .. } => ("down", Duration::ZERO),
                };
                self.metrics.health_probe(tenant.as_str(), verdict, latency);
                if action == Action::WriteStatus {
                    self.write_status(&tenant, ApplyFact::NothingToDo, None);
                }
            }
            Observation::Sample { tenant, sample, nano_cpus } => {
                let sampled = Event::Sampled { sample, nano_cpus };
                if self.records.entry(tenant.clone()).or_default().next(sampled, now) == Action::WriteStatus {
                    self.write_status(&tenant, ApplyFact::NothingToDo, None);
                }
            }
            Observation::Restarted { tenant, result } => {
                self.records.entry(tenant.clone()).or_default().next(Event::Restarted, now);
                if let Err(e) = result {
                    tracing::error!(tenant = %tenant, error = %e, "restart failed");
                }
                self.dirty.insert(tenant);
            }
        }
    }

    /// Derives and writes one tenant's status from what the controller knows.
    fn write_status(&mut self, name: &TenantName, apply: ApplyFact, probe: Option<ProbeFact>) {
        let spec = self.spec_fact(name);
        let observed: Option<&ObservedTenant> = self.memory.world.tenants.get(name);
        let sup = self.records.entry(name.clone()).or_default();
        let now = Instant::now();
        let wall = OffsetDateTime::now_utc();
        let backoff =
            sup.next_retry(now).map(|(until, crash_loop)| BackoffFact { until: wall + (until - now), crash_loop });
        // A runtime that runs again is not shown waiting out a crash backoff; the backoff still
        // holds back its next restart if it goes down again.
        let main_running = observed
            .and_then(|t| t.container(&ContainerRole::Main))
            .is_some_and(|c| c.state == ContainerState::Running);
        let daemon = DaemonFacts {
            // Only a crash loop is reported as a backoff phase; a failing apply shows as Failed.
            backoff: backoff.filter(|b| matches!(apply, ApplyFact::Failed { .. }) || (b.crash_loop && !main_running)),
            probe_latency_ms: sup.health.latency.map(|l| l.as_millis() as u64),
            supervisor_restarts: sup.supervisor_restarts,
            usage: sup.resources.usage,
            pressure: sup.resources.pressure.clone(),
            engine: self.runtime.engine(),
            // A failure stays visible until something else happens to the tenant (status policy).
            retrying: sup.failed_hash.clone(),
            replacing: sup.replacing,
        };
        let probe = probe.or(sup.health.last);
        let previous = self.memory.statuses.as_ref().and_then(|s| s.get(name));
        let status = derive(previous, Facts { tenant: name.as_str(), spec, observed, apply, probe, daemon }, wall);
        if previous == Some(&status) {
            return;
        }
        // The store logs the change of phase, if any, once written.
        match self.store.write(&status) {
            Ok(_) => {
                // A tenant that is gone leaves no metric series and no backoff behind.
                if status.phase == Phase::Removed {
                    self.metrics.forget_tenant(name.as_str());
                    let gone = self.records.get_mut(name).map(|r| r.next(Event::Gone, now));
                    if gone == Some(Action::Drop) {
                        self.records.remove(name);
                    }
                }
                self.memory.statuses.get_or_insert_default().insert(name.clone(), status);
            }
            Err(e) => {
                self.metrics.status_write_failed();
                tracing::error!(tenant = %name, error = %e, "cannot write status file; reconciling goes on");
            }
        }
    }

    fn spec_fact(&self, name: &TenantName) -> SpecFact {
        self.memory.desired.as_ref().map_or(SpecFact::Absent, |d| d.spec_fact(name))
    }

    /// Tells systemd and the metrics where things stand; pings the watchdog from the loop's own
    /// progress.
    fn report(&mut self) {
        let mut phases: BTreeMap<String, u64> = BTreeMap::new();
        for s in self.statuses().values().filter(|s| s.phase != Phase::Removed) {
            *phases.entry(format!("{:?}", s.phase)).or_default() += 1;
        }
        self.metrics.set_tenant_phases(&phases);
        self.metrics.set_engine_up(self.engine_down.is_none());
        let total: u64 = phases.values().sum();
        let parts: Vec<String> = phases.iter().map(|(p, n)| format!("{n} {}", p.to_lowercase())).collect();
        let mut line = format!("{total} tenants: {}", if parts.is_empty() { "none".into() } else { parts.join(", ") });
        if let Some(engine) = self.runtime.engine() {
            line = format!("{line} on {} {}", engine.kind, engine.version);
        }
        if let Some(why) = &self.engine_down {
            line = format!("engine unreachable, retrying ({why}); {line}");
        }
        if line != self.last_status_line {
            self.notifier.status(&line);
            self.last_status_line = line;
        }
        let now = Instant::now();
        let every = self.notifier.watchdog_interval().unwrap_or(Duration::from_secs(1));
        if self.last_watchdog.is_none_or(|t| now.duration_since(t) >= every) {
            self.notifier.watchdog();
            self.last_watchdog = Some(now);
        }
    }

    /// From now on, workers still waiting for their turn end without doing anything.
    pub fn begin_stop(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Tenants with a worker running.
    pub fn busy(&self) -> usize {
        self.records.values().filter(|r| r.in_flight).count()
    }

    fn in_flight(&self, name: &TenantName) -> bool {
        self.records.get(name).is_some_and(|r| r.in_flight)
    }

    pub fn desired_tenant(&self, name: &TenantName) -> Option<&DesiredTenant> {
        self.memory.desired.as_ref().and_then(|d| d.tenants.get(name)).map(|d| &**d)
    }
}
