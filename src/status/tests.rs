//! Status derivation and the atomic writer.

use time::macros::datetime;

use super::*;
use crate::plan::Blocked;
use crate::render::{ContainerRole, Limits};
use crate::runtime::{ContainerState, EngineHealth, ObservedContainer, ObservedTenant};

fn observed(state: ContainerState, health: EngineHealth) -> ObservedTenant {
    ObservedTenant {
        name: "acme".parse().unwrap(),
        network: None,
        volumes: vec![],
        containers: vec![ObservedContainer {
            id: "abc".into(),
            name: "tenantd_acme".into(),
            role: ContainerRole::Main,
            image_ref: "img".into(),
            image_id: "sha256:1".into(),
            config_hash: Some("v1:c".into()),
            field_hashes: Default::default(),
            spec_hash: Some("v1:s".into()),
            applied: None,
            state,
            health,
            limits: Limits { memory_bytes: 1, nano_cpus: 1, pids: 1 },
            host_port: Some(19001),
            restart_count: 2,
            started_at: None,
            networks: vec![],
            problem: None,
        }],
        objects: vec![],
    }
}

fn valid() -> SpecFact {
    SpecFact::Valid { spec_hash: "v1:s".into(), source: "tenants.d/acme.yaml".into(), suspended: false }
}

/// A valid spec just applied, with `o` observed.
fn applied(o: &ObservedTenant) -> Facts<'_> {
    Facts {
        tenant: "acme",
        spec: valid(),
        observed: Some(o),
        apply: ApplyFact::Applied,
        probe: None,
        daemon: DaemonFacts::default(),
    }
}

#[test]
fn a_running_healthy_tenant_is_running_with_its_url() {
    let o = observed(ContainerState::Running, EngineHealth::Healthy);
    let s = derive(None, applied(&o), datetime!(2026-01-01 0:00 UTC));
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.health, Health::Healthy);
    assert_eq!(s.url.as_deref(), Some("http://127.0.0.1:19001"));
    assert_eq!(s.applied_hash.as_deref(), Some("v1:s"));
    assert_eq!(s.restart_count, 2);
    assert_eq!(s.last_applied_time, Some(datetime!(2026-01-01 0:00 UTC)));
}

#[test]
fn an_invalid_spec_keeps_the_running_facts_and_the_applied_hash() {
    let o = observed(ContainerState::Running, EngineHealth::Healthy);
    let first = derive(
        None,
        Facts {
            tenant: "acme",
            spec: valid(),
            observed: Some(&o),
            apply: ApplyFact::Applied,
            probe: None,
            daemon: DaemonFacts::default(),
        },
        datetime!(2026-01-01 0:00 UTC),
    );
    let spec = SpecFact::Invalid { messages: vec!["acme.yaml:3:1: bad".into()], source: Some("acme.yaml".into()) };
    let s = derive(
        Some(&first),
        Facts {
            tenant: "acme",
            spec,
            observed: Some(&o),
            apply: ApplyFact::Blocked(Blocked::Invalid { messages: vec![] }),
            probe: None,
            daemon: DaemonFacts::default(),
        },
        datetime!(2026-01-02 0:00 UTC),
    );
    assert_eq!(s.phase, Phase::Invalid);
    assert_eq!(s.container_id.as_deref(), Some("abc"));
    assert_eq!(s.applied_hash.as_deref(), Some("v1:s"));
    assert!(s.last_error.unwrap().contains("bad"));
    let spec_valid = s.conditions.iter().find(|c| c.kind == ConditionType::SpecValid).unwrap();
    assert!(!spec_valid.status);
    assert_eq!(spec_valid.last_transition_time, datetime!(2026-01-02 0:00 UTC));
}

#[test]
fn transition_times_only_move_when_a_condition_changes() {
    let o = observed(ContainerState::Running, EngineHealth::Healthy);
    let facts = || Facts {
        tenant: "acme",
        spec: valid(),
        observed: Some(&o),
        apply: ApplyFact::NothingToDo,
        probe: None,
        daemon: DaemonFacts::default(),
    };
    let first = derive(None, facts(), datetime!(2026-01-01 0:00 UTC));
    let second = derive(Some(&first), facts(), datetime!(2026-01-05 0:00 UTC));
    assert_eq!(first, second, "nothing changed, so the status is identical and is not rewritten");
}

#[test]
fn failures_map_to_phases() {
    let o = observed(ContainerState::Running, EngineHealth::Healthy);
    let pull = derive(
        None,
        Facts {
            tenant: "acme",
            spec: valid(),
            observed: Some(&o),
            apply: ApplyFact::Failed { message: "pull x".into(), image_pull: true },
            probe: None,
            daemon: DaemonFacts::default(),
        },
        datetime!(2026-01-01 0:00 UTC),
    );
    assert_eq!(pull.phase, Phase::ImagePullBackOff);
    let exited = observed(ContainerState::Exited { code: 3 }, EngineHealth::None);
    let s = derive(
        None,
        Facts {
            tenant: "acme",
            spec: valid(),
            observed: Some(&exited),
            apply: ApplyFact::NothingToDo,
            probe: None,
            daemon: DaemonFacts::default(),
        },
        datetime!(2026-01-01 0:00 UTC),
    );
    assert_eq!((s.phase, s.health), (Phase::Failed, Health::Down));
    assert!(s.last_error.unwrap().contains("code 3"));
    let unhealthy = observed(ContainerState::Running, EngineHealth::Unhealthy);
    let s = derive(
        None,
        Facts {
            tenant: "acme",
            spec: valid(),
            observed: Some(&unhealthy),
            apply: ApplyFact::NothingToDo,
            probe: None,
            daemon: DaemonFacts::default(),
        },
        datetime!(2026-01-01 0:00 UTC),
    );
    assert_eq!(s.phase, Phase::Degraded);
    let gone = derive(
        None,
        Facts {
            tenant: "acme",
            spec: SpecFact::Absent,
            observed: None,
            apply: ApplyFact::Applied,
            probe: None,
            daemon: DaemonFacts::default(),
        },
        datetime!(2026-01-01 0:00 UTC),
    );
    assert_eq!(gone.phase, Phase::Removed);
}

#[test]
fn the_writer_is_atomic_skips_identical_content_and_sweeps_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::new(dir.path().join("status"));
    store.prepare().unwrap();
    std::fs::write(store.dir().join(".tmp-acme.999"), "half a file").unwrap();
    store.prepare().unwrap();
    assert!(!store.dir().join(".tmp-acme.999").exists(), "a crash leftover is swept");

    let o = observed(ContainerState::Running, EngineHealth::Healthy);
    let s = derive(None, applied(&o), datetime!(2026-01-01 0:00 UTC));
    assert!(store.write(&s).unwrap());
    assert!(!store.write(&s).unwrap(), "identical status is not rewritten");
    assert_eq!(store.read(&"acme".parse().unwrap()).unwrap().unwrap(), s);
    let names: Vec<_> = std::fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["acme.json"]);
}

#[test]
fn an_unhealthy_or_stopped_sidecar_degrades_the_tenant() {
    let phase_with = |state: ContainerState, health: EngineHealth| {
        let mut o = observed(ContainerState::Running, EngineHealth::Healthy);
        let mut sidecar = o.containers[0].clone();
        (sidecar.role, sidecar.name, sidecar.state, sidecar.health) =
            (ContainerRole::Sidecar("cache".into()), "tenantd_acme_cache".into(), state, health);
        o.containers.push(sidecar);
        derive(None, applied(&o), datetime!(2026-01-01 0:00 UTC)).phase
    };
    assert_eq!(phase_with(ContainerState::Running, EngineHealth::Healthy), Phase::Running);
    assert_eq!(phase_with(ContainerState::Running, EngineHealth::None), Phase::Running);
    assert_eq!(phase_with(ContainerState::Running, EngineHealth::Unhealthy), Phase::Degraded);
    assert_eq!(phase_with(ContainerState::Exited { code: 1 }, EngineHealth::None), Phase::Degraded);
}

#[test]
fn a_tenant_with_no_published_port_runs_once_its_container_runs_with_the_engines_verdict() {
    // `egress: deny`: no port on the host, so tenantd has no probe of its own; the engine's
    // healthcheck has not answered yet.
    let mut o = observed(ContainerState::Running, EngineHealth::Starting);
    o.containers[0].host_port = None;
    let s = derive(None, applied(&o), datetime!(2026-01-01 0:00 UTC));
    assert_eq!((s.phase, s.health), (Phase::Running, Health::Starting));
    let healthy = s.conditions.iter().find(|c| c.kind == ConditionType::Healthy).unwrap();
    assert!(!healthy.status && healthy.message.contains("not probed"), "{healthy:?}");
    assert_eq!(s.url, None);

    // The engine's later verdicts are the tenant's health.
    o.containers[0].health = EngineHealth::Healthy;
    let s = derive(Some(&s), applied(&o), datetime!(2026-01-01 0:01 UTC));
    assert_eq!((s.phase, s.health), (Phase::Running, Health::Healthy));
    o.containers[0].health = EngineHealth::Unhealthy;
    let s = derive(Some(&s), applied(&o), datetime!(2026-01-01 0:02 UTC));
    assert_eq!((s.phase, s.health), (Phase::Degraded, Health::Unhealthy));

    // A published port still holds the phase until the runtime is seen healthy.
    let published = observed(ContainerState::Running, EngineHealth::Starting);
    assert_eq!(derive(None, applied(&published), datetime!(2026-01-01 0:00 UTC)).phase, Phase::Pending);
}

#[test]
fn a_tenant_whose_spec_and_runtime_are_gone_is_removed_even_in_crash_backoff() {
    let now = datetime!(2026-01-01 0:00 UTC);
    let crash = BackoffFact { until: datetime!(2026-01-01 0:01 UTC), crash_loop: true };
    let facts = |spec, observed| Facts {
        tenant: "acme",
        spec,
        observed,
        apply: ApplyFact::Applied,
        probe: None,
        daemon: DaemonFacts { backoff: Some(crash.clone()), ..DaemonFacts::default() },
    };
    let gone = derive(None, facts(SpecFact::Absent, None), now);
    assert_eq!((gone.phase, gone.next_retry_time), (Phase::Removed, None), "{gone:?}");
    // While the spec still asks for it, the backoff is what the status tells.
    let exited = observed(ContainerState::Exited { code: 2 }, EngineHealth::None);
    let looping = derive(None, facts(valid(), Some(&exited)), now);
    assert_eq!((looping.phase, looping.next_retry_time), (Phase::CrashLoopBackOff, Some(crash.until)));
}

#[test]
fn a_tenant_whose_runtime_is_being_replaced_is_pending_and_reconciling_not_running() {
    let now = datetime!(2026-01-01 0:00 UTC);
    // What was observed before the worker took the tenant: the old runtime, running, healthy.
    let old = observed(ContainerState::Running, EngineHealth::Healthy);
    let running = derive(None, Facts { probe: Some(ProbeFact::Healthy), ..applied(&old) }, now);
    assert_eq!((running.phase, running.health), (Phase::Running, Health::Healthy));
    // The worker replaces it for a new spec.
    let new_spec = SpecFact::Valid { spec_hash: "v1:t".into(), source: "tenants.d/acme.yaml".into(), suspended: false };
    let replacing = Facts {
        spec: new_spec,
        apply: ApplyFact::NothingToDo,
        probe: Some(ProbeFact::Healthy),
        daemon: DaemonFacts { replacing: true, ..DaemonFacts::default() },
        ..applied(&old)
    };
    let s = derive(Some(&running), replacing, now);
    assert_eq!((s.phase, s.health), (Phase::Pending, Health::Starting), "{s:?}");
    let cond = |kind: ConditionType| s.conditions.iter().find(|c| c.kind == kind).unwrap();
    assert!(cond(ConditionType::Reconciling).status && !cond(ConditionType::Ready).status, "{s:?}");
    assert_eq!(cond(ConditionType::Converged).reason, "Replacing");
    // What runs and what was applied stay as they were until the worker says otherwise.
    let hashes = (s.spec_hash.as_deref(), s.applied_hash.as_deref(), s.observed_hash.as_deref());
    assert_eq!(hashes, (Some("v1:t"), Some("v1:s"), Some("v1:s")), "{s:?}");
    // Even a failure that is being retried: the retry under way is what the status tells.
    let failed = TenantStatus { phase: Phase::Failed, last_error: Some("boom".into()), ..running.clone() };
    let retry = Facts {
        apply: ApplyFact::NothingToDo,
        daemon: DaemonFacts { replacing: true, retrying: Some("v1:s".into()), ..DaemonFacts::default() },
        ..applied(&old)
    };
    assert_eq!(derive(Some(&failed), retry, now).phase, Phase::Pending);
}

#[test]
fn a_verdict_found_for_a_container_stands_until_it_is_probed_again() {
    // `apply` probed the runtime healthy while the engine's own check had not run yet.
    let starting = observed(ContainerState::Running, EngineHealth::Starting);
    let after_apply =
        derive(None, Facts { probe: Some(ProbeFact::Healthy), ..applied(&starting) }, datetime!(2026-01-01 0:00 UTC));
    assert_eq!((after_apply.phase, after_apply.health), (Phase::Running, Health::Healthy));
    // A daemon that just started writes the status before its first probe: still healthy.
    let first_pass = Facts { apply: ApplyFact::NothingToDo, ..applied(&starting) };
    let s = derive(Some(&after_apply), first_pass, datetime!(2026-01-01 0:00:01 UTC));
    assert_eq!((s.phase, s.health), (Phase::Running, Health::Healthy));
    // Another container (a replacement) has no verdict yet.
    let mut replaced = observed(ContainerState::Running, EngineHealth::Starting);
    replaced.containers[0].id = "def".into();
    let s = derive(
        Some(&after_apply),
        Facts { apply: ApplyFact::NothingToDo, ..applied(&replaced) },
        datetime!(2026-01-01 0:00:01 UTC),
    );
    assert_eq!((s.phase, s.health), (Phase::Pending, Health::Starting));
    // A probe decides again.
    let down = Facts { apply: ApplyFact::NothingToDo, probe: Some(ProbeFact::Down), ..applied(&starting) };
    assert_eq!(derive(Some(&after_apply), down, datetime!(2026-01-01 0:00:02 UTC)).health, Health::Unhealthy);
}
