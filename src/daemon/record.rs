//! What the daemon keeps about one tenant between passes, and the one transition that decides
//! from it: [`TenantRecord::next`] takes what happened ([`Event`]) at a time and says what to do
//! ([`Action`]): whether a plan is run, what a finished worker changes, when a running tenant is
//! probed, restarted or sampled, when its status is written. Pure: the time is a parameter, and
//! the controller carries out what is decided.

use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Backoff;
use super::metrics::ReconcileResult;
use super::supervise::{HealthTrack, ResourceTrack};
use crate::health::ProbeOutcome;
use crate::plan::{Blocked, Step, TenantPlan};
use crate::render::Healthcheck;
use crate::runtime::ResourceSample;
use crate::status::{ApplyFact, ProbeFact};

/// The daemon's state of one tenant.
#[derive(Debug, Default)]
pub struct TenantRecord {
    /// Failed reconciles of the current spec.
    pub apply_backoff: Backoff,
    /// The spec hash the apply backoff is about; a changed spec is tried at once.
    pub failed_hash: Option<String>,
    /// Starts and restarts of a runtime that keeps going down.
    pub crash_backoff: Backoff,
    pub health: HealthTrack,
    pub supervisor_restarts: u64,
    pub resources: ResourceTrack,
    /// A worker is creating, replacing or restarting the main container (see
    /// [`crate::plan::TenantPlan::takes_main_down`]).
    pub replacing: bool,
    /// A probe or a restart is under way.
    pub probing: bool,
    /// A stats call is under way.
    pub sampling: bool,
    /// A worker runs this tenant's plan.
    pub in_flight: bool,
    /// A pass planned the tenant while its worker ran: it is looked at again once that is done.
    pub dirty_after: bool,
}

/// What [`TenantRecord::on_plan`] needs to know of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFacts {
    /// Something outside tenantd stands in the way.
    pub blocked: bool,
    /// The plan has steps to run.
    pub has_steps: bool,
    /// The hash of the spec the plan converges to; none for deletions and invalid specs.
    pub spec_hash: Option<String>,
    /// The plan starts a main container that had stopped on its own (a crash).
    pub restarts_main: bool,
    /// The plan takes the main container out of service for a while.
    pub takes_main_down: bool,
}

impl PlanFacts {
    pub fn of(tp: &TenantPlan) -> PlanFacts {
        PlanFacts {
            blocked: tp.blocked.is_some(),
            has_steps: !tp.steps.is_empty(),
            spec_hash: tp.desired.as_ref().map(|d| d.spec_hash.clone()),
            restarts_main: restarts_main(tp),
            takes_main_down: tp.takes_main_down(),
        }
    }
}

/// What becomes of a tenant's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// A worker runs the tenant already: it is looked at again once that worker is done.
    Queue,
    /// The plan is blocked: that is written as the tenant's status.
    Blocked,
    /// Nothing to do: the status is written from what is known.
    NothingToDo,
    /// The spec failed before and its apply backoff holds: nothing is done, nothing written.
    WaitApplyBackoff,
    /// The plan starts a runtime that keeps dying, before its crash backoff ended: the status is
    /// written (the runtime is down, and when it is tried again).
    HoldCrashBackoff,
    /// A worker runs the plan. `replacing`: it takes the main container down meanwhile, and the
    /// status says the tenant is on its way before the worker starts.
    Spawn { replacing: bool },
}

/// How a worker ended.
#[derive(Debug, Clone, Copy)]
pub enum WorkerEnd<'a> {
    /// The daemon began stopping before the worker got its turn: nothing was done.
    NotStarted,
    /// The engine could not be reached: nothing is known about the tenant.
    EngineUnreachable,
    /// The worker ran the plan of `spec_hash` and ended with `fact`; `probe` is what it found.
    Finished { fact: &'a ApplyFact, spec_hash: Option<&'a str>, probe: Option<ProbeFact> },
}

/// What a finished worker's result means, for the controller to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub result: ReconcileResult,
    /// The apply failed: the wait before the spec is tried again.
    pub retry_in: Option<Duration>,
    /// A pass planned the tenant while the worker ran: it is looked at again.
    pub look_again: bool,
}

/// What a running tenant with a health check needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeDecision {
    Nothing,
    /// Probe it.
    Probe,
    /// Its runtime failed its retries in a row and its crash backoff is over: restart it.
    Restart,
}

/// What happens to a tenant, as the daemon's loop sees it.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A pass planned the tenant.
    Planned(&'a PlanFacts),
    /// Its worker ended.
    WorkerDone(WorkerEnd<'a>),
    /// Supervision looks at its running main container, which has this health check.
    ProbeDue(&'a Healthcheck),
    /// A probe answered.
    Probed(&'a ProbeOutcome),
    /// A restart supervision asked for is done, well or not.
    Restarted,
    /// A stats round reaches its running main container.
    SampleDue,
    /// A stats call answered (`sample` is `None` when it failed); `nano_cpus` is the CPU limit.
    Sampled { sample: Option<ResourceSample>, nano_cpus: i64 },
    /// Its status says it is gone.
    Gone,
}

/// What the controller is to do after an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// What becomes of the plan (after [`Event::Planned`]).
    Dispatch(Dispatch),
    /// The worker's result, to record (after [`Event::WorkerDone`] with a result).
    Settle(Settled),
    /// Probe the main container, or restart it (after [`Event::ProbeDue`]).
    Supervise(ProbeDecision),
    /// Take a sample (after [`Event::SampleDue`]).
    Sample,
    /// Write the tenant's status from what is known.
    WriteStatus,
    /// Drop the record: no worker runs and none is to follow.
    Drop,
}

impl TenantRecord {
    /// The transition: what `event` at `now` changes in the record, and what is to be done.
    pub fn next(&mut self, event: Event<'_>, now: Instant) -> Action {
        match event {
            Event::Planned(plan) => Action::Dispatch(self.on_plan(plan, now)),
            Event::WorkerDone(end) => self.on_worker_done(end, now).map_or(Action::Nothing, Action::Settle),
            Event::ProbeDue(health) => match self.on_probe_due(health, now) {
                ProbeDecision::Nothing => Action::Nothing,
                decision => Action::Supervise(decision),
            },
            Event::Probed(outcome) => write_if(self.on_probe(outcome, now)),
            Event::Restarted => {
                self.probing = false;
                Action::Nothing
            }
            Event::SampleDue => {
                if std::mem::replace(&mut self.sampling, true) {
                    Action::Nothing
                } else {
                    Action::Sample
                }
            }
            Event::Sampled { sample, nano_cpus } => write_if(self.on_sample(sample, nano_cpus, now)),
            Event::Gone => {
                if self.forget() {
                    Action::Drop
                } else {
                    Action::Nothing
                }
            }
        }
    }

    /// Decides what to do about a plan for this tenant at `now`.
    fn on_plan(&mut self, plan: &PlanFacts, now: Instant) -> Dispatch {
        if self.in_flight {
            self.dirty_after = true;
            return Dispatch::Queue;
        }
        if plan.blocked || !plan.has_steps {
            // Nothing to retry: whatever failed before is no longer what the plan says.
            self.failed_hash = None;
            self.apply_backoff.succeeded();
        }
        if plan.blocked {
            return Dispatch::Blocked;
        }
        if !plan.has_steps {
            return Dispatch::NothingToDo;
        }
        // A spec that keeps failing waits out its backoff; a changed spec is tried at once.
        if self.failed_hash.is_some() && self.failed_hash == plan.spec_hash && !self.apply_backoff.ready(now) {
            return Dispatch::WaitApplyBackoff;
        }
        // A runtime that keeps dying is started again only after its backoff.
        if plan.restarts_main {
            if !self.crash_backoff.ready(now) {
                return Dispatch::HoldCrashBackoff;
            }
            self.crash_backoff.failed(now);
        }
        self.health.reset();
        self.replacing = plan.takes_main_down;
        self.in_flight = true;
        Dispatch::Spawn { replacing: self.replacing }
    }

    /// Records how the tenant's worker ended at `now`. `None` when there is no result to
    /// record: the worker did not start, or the engine did not answer.
    fn on_worker_done(&mut self, end: WorkerEnd<'_>, now: Instant) -> Option<Settled> {
        self.in_flight = false;
        self.replacing = false;
        let WorkerEnd::Finished { fact, spec_hash, probe } = end else { return None };
        let mut retry_in = None;
        let result = match fact {
            ApplyFact::Failed { .. } => {
                retry_in = Some(self.apply_backoff.failed(now));
                self.failed_hash = spec_hash.map(str::to_owned);
                ReconcileResult::Failure
            }
            ApplyFact::RolledBack { .. } => ReconcileResult::Failure,
            ApplyFact::Blocked(_) => ReconcileResult::Blocked,
            ApplyFact::NothingToDo => ReconcileResult::Noop,
            ApplyFact::Applied => {
                self.apply_backoff.succeeded();
                self.failed_hash = None;
                ReconcileResult::Success
            }
        };
        if let Some(p) = probe {
            self.health.last = Some(p);
        }
        let look_again = std::mem::take(&mut self.dirty_after);
        Some(Settled { result, retry_in, look_again })
    }

    /// Whether the apply backoff of a failing spec ended at `now`, so the tenant gets another pass.
    pub fn retry_due(&self, now: Instant) -> bool {
        self.failed_hash.is_some() && self.apply_backoff.ready(now) && !self.in_flight
    }

    /// Decides, for a tenant whose main container runs with `health`, whether it is probed or
    /// restarted at `now`. A restart is counted and starts the crash backoff.
    fn on_probe_due(&mut self, health: &Healthcheck, now: Instant) -> ProbeDecision {
        if self.in_flight {
            return ProbeDecision::Nothing;
        }
        let interval = Duration::from_millis(health.interval_ms);
        if self.probing || self.health.last_probe_at.is_some_and(|t| now.duration_since(t) < interval) {
            return ProbeDecision::Nothing;
        }
        if self.health.consecutive_failures >= health.retries && health.retries > 0 {
            if !self.crash_backoff.ready(now) {
                return ProbeDecision::Nothing;
            }
            self.crash_backoff.failed(now);
            self.health.reset();
            self.supervisor_restarts += 1;
            self.probing = true;
            return ProbeDecision::Restart;
        }
        self.probing = true;
        ProbeDecision::Probe
    }

    /// Records a probe's outcome at `now`; returns whether the status is to be written: the
    /// verdict changed and no worker has taken the tenant over meanwhile (a probe under way
    /// then describes what the worker is replacing; the worker writes its own result).
    fn on_probe(&mut self, outcome: &ProbeOutcome, now: Instant) -> bool {
        self.probing = false;
        let changed = self.health.record(outcome, now);
        if self.health.last == Some(ProbeFact::Healthy) {
            self.crash_backoff.succeeded();
        }
        changed && !self.in_flight
    }

    /// Records a resource sample (none: the stats call failed); returns whether the status is
    /// to be written.
    fn on_sample(&mut self, sample: Option<ResourceSample>, nano_cpus: i64, now: Instant) -> bool {
        self.sampling = false;
        match sample {
            Some(s) => self.resources.sampled(s, nano_cpus, now) && !self.in_flight,
            None => false,
        }
    }

    /// When the daemon next tries this tenant again, and whether that wait is a crash loop's.
    ///
    /// A failing apply is retried once its own backoff ends; a retry that starts the runtime
    /// again also waits out the crash backoff. So the next try is the later of the two waits
    /// that hold, never the earlier one.
    pub fn next_retry(&self, now: Instant) -> Option<(Instant, bool)> {
        let crash = self.crash_backoff.until(now);
        let apply = self.apply_backoff.until(now).filter(|_| self.failed_hash.is_some());
        match (crash, apply) {
            (Some(c), Some(a)) => Some((c.max(a), true)),
            (Some(c), None) => Some((c, true)),
            (None, Some(a)) => Some((a, false)),
            (None, None) => None,
        }
    }

    /// The tenant is gone: its backoffs and what was learnt of it are forgotten. Returns whether
    /// the record can go too, i.e. no worker runs and none is to follow.
    fn forget(&mut self) -> bool {
        let (in_flight, dirty_after) = (self.in_flight, self.dirty_after);
        *self = TenantRecord { in_flight, dirty_after, ..TenantRecord::default() };
        !in_flight && !dirty_after
    }
}

fn write_if(changed: bool) -> Action {
    if changed {
        Action::WriteStatus
    } else {
        Action::Nothing
    }
}

/// Whether this plan starts a main container that had stopped on its own (a crash).
fn restarts_main(tp: &TenantPlan) -> bool {
    let Some(d) = &tp.desired else { return false };
    tp.steps.iter().any(|s| matches!(s, Step::StartContainer { name, .. } if *name == d.main().name))
        && !matches!(tp.blocked, Some(Blocked::DeletionHeld { .. }))
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
