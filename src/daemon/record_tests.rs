//! The per-tenant decisions, one at a time, on tokio's paused clock.

use std::time::Duration;

use tokio::time::Instant;

use super::*;

// The transition, `TenantRecord::next`, seen from one kind of event at a time.

fn planned(r: &mut TenantRecord, plan: &PlanFacts, now: Instant) -> Dispatch {
    match r.next(Event::Planned(plan), now) {
        Action::Dispatch(d) => d,
        other => panic!("a plan is answered with a dispatch, not {other:?}"),
    }
}

fn worker_done(r: &mut TenantRecord, end: WorkerEnd<'_>, now: Instant) -> Option<Settled> {
    match r.next(Event::WorkerDone(end), now) {
        Action::Settle(s) => Some(s),
        Action::Nothing => None,
        other => panic!("a finished worker is settled or nothing, not {other:?}"),
    }
}

fn probe_due(r: &mut TenantRecord, health: &Healthcheck, now: Instant) -> ProbeDecision {
    match r.next(Event::ProbeDue(health), now) {
        Action::Supervise(d) => d,
        Action::Nothing => ProbeDecision::Nothing,
        other => panic!("supervision is answered with a probe, a restart or nothing, not {other:?}"),
    }
}

/// Whether the status is to be written after the probe.
fn probed(r: &mut TenantRecord, outcome: &ProbeOutcome, now: Instant) -> bool {
    r.next(Event::Probed(outcome), now) == Action::WriteStatus
}

fn steps(spec_hash: &str) -> PlanFacts {
    PlanFacts { has_steps: true, spec_hash: Some(spec_hash.into()), ..PlanFacts::default() }
}

fn failed() -> ApplyFact {
    ApplyFact::Failed { message: "pull failed".into(), image_pull: true }
}

fn health(retries: u32) -> Healthcheck {
    Healthcheck {
        command: Vec::new(),
        interval_ms: 5_000,
        timeout_ms: 1_000,
        start_period_ms: 0,
        retries,
        path: "/healthz".into(),
    }
}

fn down() -> ProbeOutcome {
    ProbeOutcome::Down { reason: "refused".into() }
}

fn healthy() -> ProbeOutcome {
    ProbeOutcome::Healthy { latency: Duration::from_millis(3) }
}

#[tokio::test(start_paused = true)]
async fn a_plan_with_steps_spawns_a_worker_and_one_planned_meanwhile_waits_for_it() {
    let now = Instant::now();
    let mut r = TenantRecord::default();
    let plan = PlanFacts { takes_main_down: true, ..steps("v1") };
    assert_eq!(planned(&mut r, &plan, now), Dispatch::Spawn { replacing: true });
    assert!(r.in_flight && r.replacing);
    assert_eq!(planned(&mut r, &plan, now), Dispatch::Queue);
    assert!(r.dirty_after, "planned while its worker ran: looked at again after");
    let settled =
        worker_done(&mut r, WorkerEnd::Finished { fact: &ApplyFact::Applied, spec_hash: Some("v1"), probe: None }, now);
    assert_eq!(settled, Some(Settled { result: ReconcileResult::Success, retry_in: None, look_again: true }));
    assert!(!r.in_flight && !r.replacing && !r.dirty_after);
}

#[tokio::test(start_paused = true)]
async fn blocked_and_stepless_plans_forget_a_failing_spec() {
    let now = Instant::now();
    let mut r = TenantRecord { failed_hash: Some("v1".into()), ..TenantRecord::default() };
    r.apply_backoff.failed(now);
    assert_eq!(planned(&mut r, &PlanFacts { blocked: true, ..steps("v1") }, now), Dispatch::Blocked);
    assert_eq!(r.failed_hash, None);
    assert!(r.apply_backoff.ready(now));
    r.failed_hash = Some("v1".into());
    assert_eq!(planned(&mut r, &PlanFacts::default(), now), Dispatch::NothingToDo);
    assert_eq!(r.failed_hash, None);
    assert!(!r.in_flight);
}

#[tokio::test(start_paused = true)]
async fn a_failing_spec_waits_out_its_apply_backoff_and_a_changed_one_does_not() {
    let start = Instant::now();
    let mut r = TenantRecord::default();
    assert_eq!(planned(&mut r, &steps("v1"), start), Dispatch::Spawn { replacing: false });
    let settled =
        worker_done(&mut r, WorkerEnd::Finished { fact: &failed(), spec_hash: Some("v1"), probe: None }, start);
    assert_eq!(
        settled,
        Some(Settled { result: ReconcileResult::Failure, retry_in: Some(Duration::from_secs(10)), look_again: false })
    );
    assert_eq!(r.failed_hash.as_deref(), Some("v1"));
    assert!(!r.retry_due(start));
    assert_eq!(planned(&mut r, &steps("v1"), start), Dispatch::WaitApplyBackoff);
    assert!(!r.in_flight);
    let later = start + Duration::from_secs(10);
    assert!(r.retry_due(later), "the backoff is over: another pass");
    assert_eq!(planned(&mut r, &steps("v1"), later), Dispatch::Spawn { replacing: false });
    assert!(!r.retry_due(later), "not while its worker runs");
    // A second failure doubles the wait; a changed spec is tried at once all the same.
    let settled =
        worker_done(&mut r, WorkerEnd::Finished { fact: &failed(), spec_hash: Some("v1"), probe: None }, later);
    assert_eq!(settled.and_then(|s| s.retry_in), Some(Duration::from_secs(20)));
    assert_eq!(planned(&mut r, &steps("v2"), later), Dispatch::Spawn { replacing: false });
    // Success forgets the failing spec and ends the wait.
    worker_done(&mut r, WorkerEnd::Finished { fact: &ApplyFact::Applied, spec_hash: Some("v2"), probe: None }, later);
    assert_eq!(r.failed_hash, None);
    assert!(r.apply_backoff.ready(later));
}

#[tokio::test(start_paused = true)]
async fn a_runtime_that_keeps_dying_is_started_again_only_after_its_crash_backoff() {
    let start = Instant::now();
    let mut r = TenantRecord::default();
    let restart = PlanFacts { restarts_main: true, ..steps("v1") };
    assert_eq!(planned(&mut r, &restart, start), Dispatch::Spawn { replacing: false });
    worker_done(&mut r, WorkerEnd::Finished { fact: &ApplyFact::Applied, spec_hash: Some("v1"), probe: None }, start);
    assert_eq!(planned(&mut r, &restart, start + Duration::from_secs(9)), Dispatch::HoldCrashBackoff);
    assert_eq!(r.next_retry(start), Some((start + Duration::from_secs(10), true)));
    assert_eq!(planned(&mut r, &restart, start + Duration::from_secs(10)), Dispatch::Spawn { replacing: false });
    assert_eq!(r.crash_backoff.failures(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_did_not_run_records_nothing_but_frees_the_tenant() {
    let now = Instant::now();
    let mut r = TenantRecord::default();
    planned(&mut r, &PlanFacts { takes_main_down: true, ..steps("v1") }, now);
    planned(&mut r, &steps("v1"), now);
    assert_eq!(worker_done(&mut r, WorkerEnd::EngineUnreachable, now), None);
    assert!(!r.in_flight && !r.replacing);
    assert!(r.dirty_after, "kept for the worker that finishes");
    assert_eq!(r.failed_hash, None);
    planned(&mut r, &steps("v1"), now);
    assert_eq!(worker_done(&mut r, WorkerEnd::NotStarted, now), None);
    assert!(!r.in_flight);
}

#[tokio::test(start_paused = true)]
async fn a_rollback_is_a_failure_that_starts_no_apply_backoff_and_a_probe_is_kept() {
    let now = Instant::now();
    let mut r = TenantRecord::default();
    planned(&mut r, &steps("v1"), now);
    let rolled_back = ApplyFact::RolledBack { message: "never healthy".into() };
    let settled = worker_done(
        &mut r,
        WorkerEnd::Finished { fact: &rolled_back, spec_hash: Some("v1"), probe: Some(ProbeFact::Degraded) },
        now,
    );
    assert_eq!(settled.map(|s| s.result), Some(ReconcileResult::Failure));
    assert_eq!(r.failed_hash, None);
    assert_eq!(r.health.last, Some(ProbeFact::Degraded));
}

#[tokio::test(start_paused = true)]
async fn probes_wait_their_interval_and_one_at_a_time() {
    let start = Instant::now();
    let mut r = TenantRecord::default();
    let h = health(3);
    assert_eq!(probe_due(&mut r, &h, start), ProbeDecision::Probe);
    assert_eq!(probe_due(&mut r, &h, start), ProbeDecision::Nothing, "one under way");
    assert!(probed(&mut r, &healthy(), start), "a first verdict is a change");
    assert!(!r.probing);
    assert_eq!(probe_due(&mut r, &h, start + Duration::from_millis(4_999)), ProbeDecision::Nothing);
    assert_eq!(probe_due(&mut r, &h, start + Duration::from_secs(5)), ProbeDecision::Probe);
    assert!(!probed(&mut r, &healthy(), start + Duration::from_secs(5)), "the same verdict again");
    // A worker that took the tenant over is not probed; its own result is written.
    r.in_flight = true;
    assert_eq!(probe_due(&mut r, &h, start + Duration::from_secs(60)), ProbeDecision::Nothing);
    r.probing = true;
    assert!(!probed(&mut r, &down(), start + Duration::from_secs(60)), "changed, but a worker writes");
}

#[tokio::test(start_paused = true)]
async fn a_runtime_down_for_its_retries_is_restarted_then_backs_off() {
    let start = Instant::now();
    let mut r = TenantRecord::default();
    let h = health(2);
    let mut t = start;
    for _ in 0..2 {
        assert_eq!(r.next(Event::ProbeDue(&h), t), Action::Supervise(ProbeDecision::Probe));
        r.next(Event::Probed(&down()), t);
        t += Duration::from_secs(5);
    }
    assert_eq!(r.next(Event::ProbeDue(&h), t), Action::Supervise(ProbeDecision::Restart));
    assert_eq!((r.supervisor_restarts, r.health.consecutive_failures, r.probing), (1, 0, true));
    assert_eq!(r.next(Event::ProbeDue(&h), t), Action::Nothing, "the restart is under way");
    assert_eq!(r.next(Event::Restarted, t), Action::Nothing);
    for _ in 0..2 {
        assert_eq!(r.next(Event::ProbeDue(&h), t), Action::Supervise(ProbeDecision::Probe));
        r.next(Event::Probed(&down()), t);
        t += Duration::from_secs(5);
    }
    // Down again 10 s after the restart: its crash backoff (10 s) has just ended.
    assert_eq!(t, start + Duration::from_secs(20));
    assert_eq!(r.next(Event::ProbeDue(&h), t), Action::Supervise(ProbeDecision::Restart));
    assert_eq!(r.next(Event::Restarted, t), Action::Nothing);
    for _ in 0..2 {
        probe_due(&mut r, &h, t);
        r.next(Event::Probed(&down()), t);
        t += Duration::from_secs(5);
    }
    // The second wait is 20 s: not over 10 s after the second restart.
    assert_eq!(probe_due(&mut r, &h, t), ProbeDecision::Nothing);
    assert_eq!(probe_due(&mut r, &h, start + Duration::from_secs(40)), ProbeDecision::Restart);
    assert_eq!(r.supervisor_restarts, 3);
}

#[tokio::test(start_paused = true)]
async fn no_retries_means_no_restart_and_a_healthy_probe_ends_the_crash_wait() {
    let start = Instant::now();
    let mut r = TenantRecord::default();
    let h = health(0);
    for i in 0..5 {
        let t = start + Duration::from_secs(5 * i);
        assert_eq!(probe_due(&mut r, &h, t), ProbeDecision::Probe);
        probed(&mut r, &down(), t);
    }
    r.crash_backoff.failed(start);
    assert!(!r.crash_backoff.ready(start));
    probed(&mut r, &healthy(), start);
    assert!(r.crash_backoff.ready(start));
}

#[tokio::test(start_paused = true)]
async fn samples_are_taken_one_at_a_time_and_written_only_while_no_worker_runs() {
    let now = Instant::now();
    let mut r = TenantRecord::default();
    assert_eq!(r.next(Event::SampleDue, now), Action::Sample);
    assert_eq!(r.next(Event::SampleDue, now), Action::Nothing, "one under way");
    let sample = ResourceSample {
        cpu_total_ns: 0,
        system_cpu_ns: 0,
        online_cpus: 1,
        memory_bytes: 50,
        memory_limit_bytes: 100,
        network_rx_bytes: None,
        network_tx_bytes: None,
    };
    let sampled = |sample| Event::Sampled { sample, nano_cpus: 1_000_000_000 };
    assert_eq!(r.next(sampled(None), now), Action::Nothing, "a failed stats call changes nothing");
    assert_eq!(r.next(Event::SampleDue, now), Action::Sample);
    assert_eq!(r.next(sampled(Some(sample)), now), Action::WriteStatus, "a first usage is a change");
    assert_eq!(r.next(Event::SampleDue, now), Action::Sample);
    r.in_flight = true;
    let busier = ResourceSample { memory_bytes: 90, ..sample };
    assert_eq!(r.next(sampled(Some(busier)), now), Action::Nothing, "a worker writes the status");
    assert_eq!(r.resources.usage.map(|u| u.memory_bytes), Some(90), "recorded all the same");
    assert_eq!(r.next(Event::SampleDue, now), Action::Sample);
}

#[tokio::test(start_paused = true)]
async fn the_next_retry_is_the_later_of_the_waits_that_hold() {
    let start = Instant::now();
    let mut s = TenantRecord::default();
    assert_eq!(s.next_retry(start), None);
    // A runtime that died: the crash backoff alone (10 s).
    s.crash_backoff.failed(start);
    assert_eq!(s.next_retry(start), Some((start + Duration::from_secs(10), true)));
    // Its restart failed twice as an apply: that wait (20 s) ends later and is the one told.
    s.failed_hash = Some("v1:s".into());
    s.apply_backoff.failed(start);
    s.apply_backoff.failed(start);
    assert_eq!(s.next_retry(start), Some((start + Duration::from_secs(20), true)));
    // An apply backoff without a failing spec holds nothing back.
    s.failed_hash = None;
    assert_eq!(s.next_retry(start), Some((start + Duration::from_secs(10), true)));
    s.crash_backoff.succeeded();
    s.failed_hash = Some("v1:s".into());
    assert_eq!(s.next_retry(start), Some((start + Duration::from_secs(20), false)));
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(s.next_retry(Instant::now()), None, "a wait that is over is no retry time");
}

#[tokio::test(start_paused = true)]
async fn forgetting_a_removed_tenant_keeps_a_running_worker_in_view() {
    let now = Instant::now();
    let mut r = TenantRecord { supervisor_restarts: 2, failed_hash: Some("v1".into()), ..TenantRecord::default() };
    assert_eq!(r.next(Event::Gone, now), Action::Drop, "nothing runs: the record can go");
    assert_eq!((r.supervisor_restarts, r.failed_hash.as_deref()), (0, None));
    assert_eq!(r.next(Event::Planned(&steps("v1")), now), Action::Dispatch(Dispatch::Spawn { replacing: false }));
    r.supervisor_restarts = 2;
    assert_eq!(r.next(Event::Gone, now), Action::Nothing, "its worker still runs");
    assert!(r.in_flight);
    assert_eq!(r.supervisor_restarts, 0);
}
