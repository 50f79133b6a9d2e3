//! Status from facts: what the spec said, what the runtime shows, and how the apply went. Pure;
//! the clock is a parameter. The one status policy: `apply` and the daemon both derive
//! statuses here.

use time::OffsetDateTime;

use super::facts::*;
use super::model::*;
use super::policy;
use crate::plan::Blocked;
use crate::render::ContainerRole;
use crate::runtime::{ContainerProblem, ContainerState, EngineHealth};

/// Builds the new status, keeping transition times, the generation and the applied hash from
/// `previous`. When nothing but the time would differ, the result equals `previous` (so it is
/// not written again).
pub fn derive(previous: Option<&TenantStatus>, facts: Facts<'_>, now: OffsetDateTime) -> TenantStatus {
    let apply = policy::settle(facts.apply, previous, &facts.spec, facts.daemon.retrying.as_deref());
    let facts = Facts { apply, ..facts };
    let main = facts.observed.and_then(|o| o.container(&ContainerRole::Main));
    let sidecars_down = facts
        .observed
        .map(|o| {
            o.containers.iter().any(|c| {
                c.role != ContainerRole::Main
                    && (c.state != ContainerState::Running || c.health == EngineHealth::Unhealthy)
            })
        })
        .unwrap_or(false);
    let suspended = matches!(facts.spec, SpecFact::Valid { suspended: true, .. });
    let problem = facts.observed.and_then(|o| o.containers.iter().find_map(|c| c.problem.as_ref()));

    // tenantd probes a runtime from the host, on its published port. One that publishes none
    // (`egress: deny`) on a container engine is never probed: the engine's own healthcheck is
    // all there is to know, and it is no reason to hold the phase back. (On a cluster the
    // engine's verdict is the pod's readiness, which the phase follows.)
    let unprobed =
        main.is_some() && facts.observed.is_some_and(|o| o.endpoint_port().is_none() && o.objects.is_empty());
    let health = match main {
        _ if facts.daemon.replacing => Health::Starting,
        None => Health::Down,
        Some(c) if c.state != ContainerState::Running => Health::Down,
        // Both verdicts count: the engine's check from inside, tenantd's probe from outside.
        Some(c) => match (facts.probe.filter(|_| !unprobed), c.health) {
            (_, EngineHealth::Unhealthy) => Health::Unhealthy,
            (Some(ProbeFact::Healthy), _) => Health::Healthy,
            (Some(ProbeFact::Degraded | ProbeFact::Down), _) => Health::Unhealthy,
            (None, EngineHealth::Healthy) => Health::Healthy,
            // Not probed yet by this process (a daemon that just started after `apply`): the
            // verdict last written for this very container stands until a probe says otherwise,
            // rather than "starting" for a container that was found healthy.
            (None, _) if !unprobed && previous.is_some_and(|p| probed_same(p, &c.id)) => {
                previous.map_or(Health::Unknown, |p| p.health)
            }
            (None, EngineHealth::Starting) => Health::Starting,
            (None, EngineHealth::None) => Health::Unknown,
        },
    };

    let (phase, last_error) = match (&facts.spec, &facts.apply) {
        (SpecFact::Invalid { messages, .. }, _) => (Phase::Invalid, Some(messages.join("; "))),
        // The runtime being replaced neither runs nor fails: the worker's result says which.
        _ if facts.daemon.replacing => (Phase::Pending, None),
        (_, ApplyFact::Blocked(Blocked::Conflict { objects })) => (
            Phase::Conflict,
            Some(
                objects
                    .iter()
                    .map(|o| format!("{} {} is not this instance's", o.kind, o.name))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        (_, ApplyFact::Blocked(Blocked::NoPort { message })) => (Phase::Failed, Some(message.clone())),
        // Valid, but not for this runtime (a name a cluster would refuse).
        (_, ApplyFact::Blocked(Blocked::Invalid { messages })) => (Phase::Invalid, Some(messages.join("; "))),
        // The engine's own reason a container is held back (clusters report these): it says more
        // than a failed wait for the rollout.
        _ if matches!(problem, Some(ContainerProblem::ImagePull { .. })) => {
            (Phase::ImagePullBackOff, problem.map(ToString::to_string))
        }
        _ if matches!(problem, Some(ContainerProblem::CrashLoop { .. })) => {
            (Phase::CrashLoopBackOff, problem.map(ToString::to_string))
        }
        (_, ApplyFact::Failed { message, image_pull: true }) => (Phase::ImagePullBackOff, Some(message.clone())),
        (_, ApplyFact::Failed { message, .. }) if facts.daemon.backoff.as_ref().is_some_and(|b| b.crash_loop) => {
            (Phase::CrashLoopBackOff, Some(with_exit(main.map(|c| c.state), message)))
        }
        (_, ApplyFact::Failed { message, .. }) => (Phase::Failed, Some(with_exit(main.map(|c| c.state), message))),
        (_, ApplyFact::RolledBack { message }) => (Phase::RolledBack, Some(message.clone())),
        (_, ApplyFact::Blocked(Blocked::RolledBack { message })) => (Phase::RolledBack, Some(message.clone())),
        // A tenant whose spec and runtime are gone is removed, whatever backoff it was in: no
        // retry follows.
        (SpecFact::Absent, _) if main.is_none() => (Phase::Removed, None),
        (_, _) if facts.daemon.backoff.as_ref().is_some_and(|b| b.crash_loop) => {
            (Phase::CrashLoopBackOff, exit_error(main.map(|c| c.state)))
        }
        _ if suspended => (Phase::Suspended, None),
        _ => (runtime_phase(main.map(|c| c.state), health, sidecars_down, unprobed), exit_error(main.map(|c| c.state))),
    };

    let spec_ok = !matches!(facts.spec, SpecFact::Invalid { .. });
    let converged = matches!(facts.apply, ApplyFact::Applied | ApplyFact::NothingToDo)
        && !matches!(facts.spec, SpecFact::Invalid { .. })
        && !facts.daemon.replacing;
    let converge_reason =
        if facts.daemon.replacing && spec_ok { "Replacing" } else { converge_reason(&facts.apply, spec_ok) };
    let mut conditions = vec![
        condition(
            ConditionType::SpecValid,
            spec_ok,
            if spec_ok { "Valid" } else { "InvalidSpec" },
            match &facts.spec {
                SpecFact::Invalid { messages, .. } => messages.join("; "),
                SpecFact::Absent => "no spec file names this tenant".into(),
                SpecFact::Valid { .. } => String::new(),
            },
        ),
        condition(ConditionType::Converged, converged, converge_reason, last_error.clone().unwrap_or_default()),
        condition(
            ConditionType::Healthy,
            health == Health::Healthy,
            match health {
                Health::Healthy => "Healthy",
                Health::Starting => "Starting",
                Health::Unhealthy => "Unhealthy",
                Health::Down => "NotRunning",
                Health::Unknown => "NoHealthcheck",
            },
            if unprobed && health != Health::Down {
                "not probed by tenantd: it publishes no port on the host; this is the engine's healthcheck".into()
            } else {
                String::new()
            },
        ),
    ];
    conditions.push(condition(
        ConditionType::ResourcePressure,
        facts.daemon.pressure.is_some(),
        if facts.daemon.pressure.is_some() { "HighUsage" } else { "Normal" },
        facts.daemon.pressure.clone().unwrap_or_default(),
    ));
    conditions.extend(kstatus(phase, health, converge_reason, last_error.as_deref().unwrap_or_default()));
    for c in &mut conditions {
        c.last_transition_time = previous
            .and_then(|p| p.conditions.iter().find(|pc| pc.kind == c.kind))
            .filter(|pc| pc.status == c.status && pc.reason == c.reason)
            .map(|pc| pc.last_transition_time)
            .unwrap_or(now);
    }

    let spec_hash = match &facts.spec {
        SpecFact::Valid { spec_hash, .. } => Some(spec_hash.clone()),
        _ => previous.and_then(|p| p.spec_hash.clone()),
    };
    let applied_now = matches!(facts.apply, ApplyFact::Applied);
    let applied_hash = match (&facts.apply, &facts.spec) {
        (ApplyFact::Applied | ApplyFact::NothingToDo, SpecFact::Valid { spec_hash, .. })
            if (main.is_some() || suspended) && !facts.daemon.replacing =>
        {
            Some(spec_hash.clone())
        }
        _ => previous.and_then(|p| p.applied_hash.clone()),
    };
    let source = match &facts.spec {
        SpecFact::Valid { source, .. } => Some(source.clone()),
        SpecFact::Invalid { source, .. } => source.clone(),
        SpecFact::Absent => None,
    };
    // Behind an ingress the endpoint stays while the runtime is replaced or repaired.
    let host_port = facts.observed.and_then(|o| o.endpoint_port());
    let rolled_back = match (&facts.apply, &facts.spec) {
        (ApplyFact::RolledBack { message }, SpecFact::Valid { spec_hash, .. }) => {
            Some(RolledBackStatus { spec_hash: spec_hash.clone(), reason: message.clone() })
        }
        // Kept while the spec still asks for what was rolled back.
        (_, SpecFact::Valid { spec_hash, .. }) => {
            previous.and_then(|p| p.rolled_back.clone()).filter(|rb| &rb.spec_hash == spec_hash)
        }
        _ => None,
    };
    let generation = match (&facts.spec, previous) {
        (SpecFact::Valid { spec_hash, .. }, Some(p)) if p.spec_hash.as_ref() != Some(spec_hash) => p.generation + 1,
        (SpecFact::Valid { .. }, Some(p)) => p.generation.max(1),
        (SpecFact::Valid { .. }, None) => 1,
        (SpecFact::Invalid { .. } | SpecFact::Absent, p) => p.map_or(0, |p| p.generation),
    };
    let status = TenantStatus {
        format_version: STATUS_FORMAT_VERSION,
        tenant: facts.tenant.to_string(),
        phase,
        generation,
        // Every status is derived once a pass has dealt with the spec it names.
        observed_generation: generation,
        last_update_time: Some(now),
        source,
        spec_hash,
        applied_hash,
        // What the runtime runs, in the same terms as `specHash`: when this pass found nothing
        // to change, it runs the spec; otherwise the spec its main container was created from.
        observed_hash: match (&facts.apply, &facts.spec) {
            (ApplyFact::NothingToDo | ApplyFact::Applied, SpecFact::Valid { spec_hash, .. })
                if main.is_some() && !facts.daemon.replacing =>
            {
                Some(spec_hash.clone())
            }
            _ => main.and_then(|c| c.spec_hash.clone()),
        },
        conditions,
        container_id: main.map(|c| c.id.clone()),
        host_port,
        url: host_port.map(|p| format!("http://127.0.0.1:{p}")),
        health,
        restart_count: main.map(|c| c.restart_count).unwrap_or(0),
        last_error,
        last_applied_time: if applied_now { Some(now) } else { previous.and_then(|p| p.last_applied_time) },
        last_probe_latency_ms: facts.daemon.probe_latency_ms,
        next_retry_time: facts.daemon.backoff.as_ref().filter(|_| phase != Phase::Removed).map(|b| b.until),
        supervisor_restarts: facts.daemon.supervisor_restarts.max(previous.map(|p| p.supervisor_restarts).unwrap_or(0)),
        rolled_back,
        usage: facts.daemon.usage,
        engine: facts.daemon.engine.clone(),
    };
    // Only a change moves the update time.
    match previous {
        Some(p)
            if p.last_update_time.is_some()
                && TenantStatus { last_update_time: p.last_update_time, ..status.clone() } == *p =>
        {
            p.clone()
        }
        _ => status,
    }
}

/// `unprobed`: tenantd cannot probe the runtime from the host, so the engine's "starting" does
/// not hold the phase back.
fn runtime_phase(state: Option<ContainerState>, health: Health, sidecars_down: bool, unprobed: bool) -> Phase {
    match state {
        None | Some(ContainerState::Created) => Phase::Pending,
        Some(ContainerState::Running) => match health {
            Health::Healthy | Health::Unknown if !sidecars_down => Phase::Running,
            Health::Starting if unprobed && !sidecars_down => Phase::Running,
            Health::Starting => Phase::Pending,
            _ => Phase::Degraded,
        },
        Some(ContainerState::Restarting) => Phase::Degraded,
        Some(
            ContainerState::Exited { .. } | ContainerState::Dead | ContainerState::Removing | ContainerState::Paused,
        ) => Phase::Failed,
    }
}

/// An apply failure, led by the runtime's exit code when it has exited: that is the cause, the
/// failed health wait only its symptom.
fn with_exit(state: Option<ContainerState>, message: &str) -> String {
    match exit_error(state) {
        Some(exit) => format!("{exit}; {message}"),
        None => message.to_string(),
    }
}

fn exit_error(state: Option<ContainerState>) -> Option<String> {
    match state {
        Some(ContainerState::Exited { code }) => Some(format!("the runtime container exited with code {code}")),
        Some(ContainerState::Dead) => Some("the runtime container is dead".into()),
        _ => None,
    }
}

fn converge_reason(apply: &ApplyFact, spec_ok: bool) -> &'static str {
    match apply {
        _ if !spec_ok => "InvalidSpec",
        ApplyFact::NothingToDo => "UpToDate",
        ApplyFact::Applied => "Applied",
        ApplyFact::Blocked(Blocked::Conflict { .. }) => "Conflict",
        ApplyFact::Blocked(Blocked::NoPort { .. }) => "NoHostPort",
        ApplyFact::Blocked(Blocked::DeletionHeld { .. }) => "DeletionHeld",
        ApplyFact::Blocked(Blocked::Invalid { .. }) => "InvalidSpec",
        ApplyFact::Failed { image_pull: true, .. } => "ImagePullFailed",
        ApplyFact::Failed { .. } => "ApplyFailed",
        ApplyFact::RolledBack { .. } | ApplyFact::Blocked(Blocked::RolledBack { .. }) => "RolledBack",
    }
}

/// The kstatus conditions (`Ready`, and the abnormal-true `Reconciling` and `Stalled`), from
/// the phase: at most one of the three is true. A false one's reason is the phase.
fn kstatus(phase: Phase, health: Health, converge_reason: &str, last_error: &str) -> [Condition; 3] {
    let stalled = match phase {
        Phase::Failed
        | Phase::Invalid
        | Phase::ImagePullBackOff
        | Phase::Conflict
        | Phase::RolledBack
        | Phase::CrashLoopBackOff => Some(phase.as_str()),
        // Its spec is gone but its containers stay until the unreadable spec file is fixed.
        _ if converge_reason == "DeletionHeld" => Some("DeletionHeld"),
        Phase::Pending | Phase::Running | Phase::Degraded | Phase::Suspended | Phase::Removed => None,
    };
    let reconciling = match (stalled, phase) {
        (Some(_), _) => None,
        (None, Phase::Pending | Phase::Degraded) => Some(phase.as_str()),
        (None, Phase::Running) if health == Health::Starting => Some("Starting"),
        _ => None,
    };
    let ready = stalled.is_none() && reconciling.is_none() && matches!(phase, Phase::Running | Phase::Suspended);
    let message = |on: bool| if on { last_error.to_string() } else { String::new() };
    [
        condition(ConditionType::Ready, ready, stalled.or(reconciling).unwrap_or(phase.as_str()), String::new()),
        condition(
            ConditionType::Reconciling,
            reconciling.is_some(),
            reconciling.unwrap_or(phase.as_str()),
            message(reconciling.is_some()),
        ),
        condition(
            ConditionType::Stalled,
            stalled.is_some(),
            stalled.unwrap_or(phase.as_str()),
            message(stalled.is_some()),
        ),
    ]
}

fn condition(kind: ConditionType, status: bool, reason: &str, message: String) -> Condition {
    Condition { kind, status, reason: reason.to_string(), message, last_transition_time: OffsetDateTime::UNIX_EPOCH }
}

/// Whether `previous` holds a probed verdict (healthy or not) about the container `id`.
fn probed_same(previous: &TenantStatus, id: &str) -> bool {
    previous.container_id.as_deref() == Some(id) && matches!(previous.health, Health::Healthy | Health::Unhealthy)
}
