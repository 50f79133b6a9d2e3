//! The status file's format version, generation and kstatus conditions, and its update time.

use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::plan::Blocked;
use crate::render::{ContainerRole, Limits};
use crate::runtime::{ContainerState, EngineHealth, ObservedContainer, ObservedTenant};

fn running() -> ObservedTenant {
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
            spec_hash: Some("v1:a".into()),
            applied: None,
            state: ContainerState::Running,
            health: EngineHealth::Healthy,
            limits: Limits { memory_bytes: 1, nano_cpus: 1, pids: 1 },
            host_port: Some(19001),
            restart_count: 0,
            started_at: None,
            networks: vec![],
            problem: None,
        }],
        objects: vec![],
    }
}

fn valid(hash: &str) -> SpecFact {
    SpecFact::Valid { spec_hash: hash.into(), source: "tenants.d/acme.yaml".into(), suspended: false }
}

fn facts<'a>(spec: SpecFact, observed: Option<&'a ObservedTenant>, apply: ApplyFact) -> Facts<'a> {
    Facts { tenant: "acme", spec, observed, apply, probe: None, daemon: DaemonFacts::default() }
}

fn at(minute: u8) -> OffsetDateTime {
    datetime!(2026-01-01 0:00 UTC).replace_minute(minute).unwrap()
}

/// (status, reason) of each kstatus condition, in the order Ready, Reconciling, Stalled.
fn kstatus(s: &TenantStatus) -> [(bool, String); 3] {
    [ConditionType::Ready, ConditionType::Reconciling, ConditionType::Stalled].map(|kind| {
        let c = s.conditions.iter().find(|c| c.kind == kind).unwrap_or_else(|| panic!("{kind:?} in {s:?}"));
        (c.status, c.reason.clone())
    })
}

#[test]
fn the_generation_counts_spec_changes_and_survives_everything_else() {
    let o = running();
    let first = derive(None, facts(valid("v1:a"), Some(&o), ApplyFact::Applied), at(0));
    assert_eq!((first.format_version, first.generation, first.observed_generation), (STATUS_FORMAT_VERSION, 1, 1));
    let same = derive(Some(&first), facts(valid("v1:a"), Some(&o), ApplyFact::NothingToDo), at(1));
    assert_eq!(same.generation, 1);
    let changed = derive(Some(&same), facts(valid("v1:b"), Some(&o), ApplyFact::Applied), at(2));
    assert_eq!((changed.generation, changed.observed_generation), (2, 2));
    // Neither an invalid spec nor a deleted one is a new spec hash.
    let invalid = SpecFact::Invalid { messages: vec!["acme.yaml:3:1: bad".into()], source: Some("acme.yaml".into()) };
    let invalid = derive(Some(&changed), facts(invalid, Some(&o), ApplyFact::NothingToDo), at(3));
    assert_eq!(invalid.generation, 2);
    let back = derive(Some(&invalid), facts(valid("v1:b"), Some(&o), ApplyFact::NothingToDo), at(4));
    assert_eq!(back.generation, 2, "the same spec as before it was broken");
    let removed = derive(Some(&back), facts(SpecFact::Absent, None, ApplyFact::Applied), at(5));
    assert_eq!((removed.phase, removed.generation), (Phase::Removed, 2));

    // Kept in the file: what a restarted daemon reads back goes on counting.
    let text = serde_json::to_string(&changed).unwrap();
    let read: TenantStatus = serde_json::from_str(&text).unwrap();
    assert_eq!(derive(Some(&read), facts(valid("v1:c"), Some(&o), ApplyFact::Applied), at(6)).generation, 3);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!((json["formatVersion"].as_u64(), json["generation"].as_u64()), (Some(1), Some(2)));
    assert_eq!(json["observedGeneration"].as_u64(), Some(2));
}

#[test]
fn a_file_of_an_earlier_version_reads_and_is_written_anew_in_this_format() {
    let old = serde_json::json!({
        "tenant": "acme", "phase": "Running", "specHash": "v1:a", "conditions": [], "health": "healthy",
        "restartCount": 0,
    });
    let old: TenantStatus = serde_json::from_value(old).unwrap();
    assert_eq!((old.format_version, old.generation, old.last_update_time), (0, 0, None));
    let o = running();
    let new = derive(Some(&old), facts(valid("v1:a"), Some(&o), ApplyFact::NothingToDo), at(1));
    assert_eq!((new.format_version, new.generation, new.last_update_time), (1, 1, Some(at(1))));
    assert_ne!(new, old);
}

#[test]
fn the_update_time_moves_only_when_something_else_changes() {
    let o = running();
    let first = derive(None, facts(valid("v1:a"), Some(&o), ApplyFact::Applied), at(0));
    assert_eq!(first.last_update_time, Some(at(0)));
    // "Nothing to do" after "applied" changes the Converged reason: a change.
    let second = derive(Some(&first), facts(valid("v1:a"), Some(&o), ApplyFact::NothingToDo), at(5));
    assert_eq!(second.last_update_time, Some(at(5)));
    let same = derive(Some(&second), facts(valid("v1:a"), Some(&o), ApplyFact::NothingToDo), at(6));
    assert_eq!(same, second, "nothing else changed, so neither does the time (and nothing is written)");
    let mut restarted = running();
    restarted.containers[0].restart_count = 1;
    let changed = derive(Some(&same), facts(valid("v1:a"), Some(&restarted), ApplyFact::NothingToDo), at(7));
    assert_eq!(changed.last_update_time, Some(at(7)));
}

#[test]
fn kstatus_conditions_follow_the_phase_and_at_most_one_is_true() {
    let o = running();
    let ready = derive(None, facts(valid("v1:a"), Some(&o), ApplyFact::Applied), at(0));
    assert_eq!(kstatus(&ready), [(true, "Running".into()), (false, "Running".into()), (false, "Running".into())]);

    let mut starting = running();
    starting.containers[0].health = EngineHealth::Starting;
    let pending = derive(None, facts(valid("v1:a"), Some(&starting), ApplyFact::Applied), at(0));
    assert_eq!(pending.phase, Phase::Pending);
    assert_eq!(kstatus(&pending), [(false, "Pending".into()), (true, "Pending".into()), (false, "Pending".into())]);

    let failed = derive(
        None,
        facts(valid("v1:a"), Some(&o), ApplyFact::Failed { message: "boom".into(), image_pull: false }),
        at(0),
    );
    assert_eq!(kstatus(&failed), [(false, "Failed".into()), (false, "Failed".into()), (true, "Failed".into())]);
    let stalled = failed.conditions.iter().find(|c| c.kind == ConditionType::Stalled).unwrap();
    assert_eq!(stalled.message, "boom");

    let invalid = SpecFact::Invalid { messages: vec!["acme.yaml:3:1: bad".into()], source: None };
    let invalid =
        derive(None, facts(invalid, Some(&o), ApplyFact::Blocked(Blocked::Invalid { messages: vec![] })), at(0));
    assert_eq!(kstatus(&invalid)[2], (true, "Invalid".into()));

    // No spec, and its deletion held back: someone has to fix the unreadable file first.
    let held = ApplyFact::Blocked(Blocked::DeletionHeld { message: "a file cannot be read".into() });
    let held = derive(None, facts(SpecFact::Absent, Some(&o), held), at(0));
    assert_eq!(kstatus(&held)[2], (true, "DeletionHeld".into()));
    assert!(!kstatus(&held)[0].0);

    let suspended = SpecFact::Valid { spec_hash: "v1:a".into(), source: "acme.yaml".into(), suspended: true };
    let suspended = derive(None, facts(suspended, None, ApplyFact::Applied), at(0));
    assert_eq!(kstatus(&suspended)[0], (true, "Suspended".into()));

    let removed = derive(None, facts(SpecFact::Absent, None, ApplyFact::Applied), at(0));
    assert_eq!(kstatus(&removed), [(false, "Removed".into()), (false, "Removed".into()), (false, "Removed".into())]);

    for s in [&ready, &pending, &failed, &invalid, &held, &suspended, &removed] {
        assert!(kstatus(s).iter().filter(|(on, _)| *on).count() <= 1, "{s:?}");
        // The conditions of before stay, in their order, ahead of the kstatus ones.
        let kinds: Vec<ConditionType> = s.conditions.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ConditionType::SpecValid,
                ConditionType::Converged,
                ConditionType::Healthy,
                ConditionType::ResourcePressure,
                ConditionType::Ready,
                ConditionType::Reconciling,
                ConditionType::Stalled
            ]
        );
    }
}
