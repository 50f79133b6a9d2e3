//! Plan tests: pure, no engine. Observed state comes from applying plans to the fake runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::*;
use crate::ports::allocate;
use crate::reconcile::{execute, WaitPolicy};
use crate::render::render;
use crate::runtime::fake::{Call, FakeRuntime};
use crate::runtime::{ContainerState, ForeignObject, ObservedWorld, Runtime};
use crate::spec::{LoadedSpec, TenantFile, TenantName};

pub(super) const ACME: &str = r#"
apiVersion: tenantd/v1
kind: Tenant
metadata: { name: acme, labels: { plan: pro } }
spec:
  image: registry.example/openclaw:2026.11
  port: 18789
  env: { LOG_LEVEL: info }
  resources: { memory: 512Mi, cpus: 0.5, pids: 256 }
  health: { path: /health, interval: 30s, timeout: 5s, retries: 3, startPeriod: 20s }
  volumes: [ { name: workspace, mountPath: /home/node/.openclaw/workspaces } ]
  rollout: { strategy: stopFirst }
"#;

pub(super) fn t(s: &str) -> TenantName {
    s.parse().unwrap()
}

pub(super) fn instance() -> TenantName {
    t("tenantd")
}

pub(super) fn roots() -> crate::render::FileRoots {
    crate::render::FileRoots {
        config: "/var/lib/tenantd/runtime-config".into(),
        secrets: "/run/tenantd/secrets".into(),
        ingress: "/var/lib/tenantd/ingress".into(),
    }
}

pub(super) fn spec(yaml: &str) -> LoadedSpec {
    let file: TenantFile = serde_yaml::from_str(yaml).unwrap();
    LoadedSpec {
        path: PathBuf::from(format!("tenants.d/{}.yaml", file.metadata.name)),
        file,
        contexts: BTreeMap::new(),
    }
}

pub(super) fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(yaml.contains(from), "{from} not in spec");
    yaml.replace(from, to)
}

pub(super) fn desired(specs: &[&str]) -> BTreeMap<TenantName, std::sync::Arc<crate::render::DesiredTenant>> {
    specs
        .iter()
        .map(|y| render(&spec(y), &instance(), &roots()))
        .map(|d| (d.name.clone(), std::sync::Arc::new(d)))
        .collect()
}

pub(super) fn plan_for(specs: &[&str], observed: &ObservedWorld) -> Plan {
    plan_with(specs, &BTreeMap::new(), None, observed)
}

pub(super) fn plan_with(
    specs: &[&str],
    invalid: &BTreeMap<TenantName, Vec<String>>,
    hold: Option<&str>,
    observed: &ObservedWorld,
) -> Plan {
    plan_routed_with(specs, invalid, hold, observed, &BTreeMap::new())
}

/// [`plan_with`], the tenants' ingresses forwarding where `routes` says.
pub(super) fn plan_routed_with(
    specs: &[&str],
    invalid: &BTreeMap<TenantName, Vec<String>>,
    hold: Option<&str>,
    observed: &ObservedWorld,
    routes: &BTreeMap<TenantName, String>,
) -> Plan {
    let desired = desired(specs);
    let existing = observed.host_ports();
    let ports = allocate(&desired.keys().cloned().collect(), &existing, &(19000..=19999), |_| true);
    plan(PlanInput {
        desired: &desired,
        invalid,
        hold_deletions: hold,
        observed,
        ports: &ports,
        rolled_back: &BTreeMap::new(),
        delivered: &BTreeMap::new(),
        only: None,
        earlier_builds: &BTreeMap::new(),
        ingress_routes: routes,
    })
}

/// Applies `specs` to a fresh fake runtime and returns it.
pub(super) async fn converged(specs: &[&str]) -> FakeRuntime {
    let fake = FakeRuntime::new();
    let p = plan_for(specs, &ObservedWorld::default());
    let outcomes = apply(&fake, &p).await;
    assert!(outcomes.values().all(|o| matches!(o.fact, crate::status::ApplyFact::Applied)), "{outcomes:?}");
    fake.clear_calls();
    fake
}

/// Applies a plan to the fake, without health waits.
pub(super) async fn apply(fake: &FakeRuntime, p: &Plan) -> BTreeMap<TenantName, crate::reconcile::TenantOutcome> {
    let no_wait = WaitPolicy { enabled: false, max: std::time::Duration::ZERO };
    execute(fake, p, 4, &(19000..=19999), no_wait, None).await
}

pub(super) async fn observe(fake: &FakeRuntime) -> ObservedWorld {
    fake.observe(&[], &[]).await.unwrap()
}

#[test]
fn a_new_tenant_is_created_with_network_volume_and_container() {
    let p = plan_for(&[ACME], &ObservedWorld::default());
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Create);
    let actions: Vec<&str> = acme
        .steps
        .iter()
        .map(|s| match s {
            Step::EnsureImage { .. } => "image",
            Step::CreateNetwork { .. } => "network",
            Step::CreateVolume { .. } => "volume",
            Step::CreateContainer { start: true, .. } => "container",
            _ => "other",
        })
        .collect();
    assert_eq!(actions, ["image", "network", "volume", "container"]);
    assert!(acme.host_port.is_some_and(|p| (19000..=19999).contains(&p)));
    assert!(p.has_changes());
}

#[tokio::test]
async fn a_converged_tenant_plans_no_change() {
    let fake = converged(&[ACME]).await;
    let p = plan_for(&[ACME], &observe(&fake).await);
    assert_eq!(p.tenant("acme").unwrap().change, ChangeKind::NoChange, "{p:#?}");
    assert!(!p.has_changes());
    // And applying it makes no mutating call.
    apply(&fake, &p).await;
    assert!(fake.calls().iter().all(|c| !c.is_mutation()), "{:?}", fake.calls());
}

#[tokio::test]
async fn a_memory_change_updates_in_place() {
    let fake = converged(&[ACME]).await;
    let edited = edit(ACME, "memory: 512Mi", "memory: 1Gi");
    let p = plan_for(&[&edited], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::UpdateInPlace);
    assert!(
        matches!(acme.steps.as_slice(), [Step::UpdateLimits { to, .. }] if to.memory_bytes == 1 << 30),
        "{:?}",
        acme.steps
    );
    assert!(acme.reasons.iter().any(|r| r.contains("memory 512Mi → 1Gi")), "{:?}", acme.reasons);
}

#[tokio::test]
async fn a_memory_change_replaces_where_the_engine_cannot_update_in_place() {
    let fake = converged(&[ACME]).await;
    let edited = edit(ACME, "memory: 512Mi", "memory: 1Gi");
    let observed = ObservedWorld { limit_updates: crate::runtime::LimitUpdates::Recreate, ..observe(&fake).await };
    let p = plan_for(&[&edited], &observed);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Replace);
    assert_eq!(acme.replace_fields, ["limits"]);
    assert!(!acme.steps.iter().any(|s| matches!(s, Step::UpdateLimits { .. })), "{:?}", acme.steps);
    // Unchanged limits replace nothing there either.
    let same = plan_for(&[ACME], &observed);
    assert!(!same.has_changes(), "{:?}", same.tenant("acme").unwrap().steps);
}

#[tokio::test]
async fn limits_an_engine_does_not_enforce_are_no_change() {
    let fake = converged(&[ACME]).await;
    let edited = edit(ACME, "memory: 512Mi", "memory: 1Gi");
    let observed = ObservedWorld { limit_updates: crate::runtime::LimitUpdates::Unenforced, ..observe(&fake).await };
    // Rootless on cgroup v1 creates the container without limits whatever it is asked: neither
    // an update nor a replacement would change what it runs with.
    let p = plan_for(&[&edited], &observed);
    assert!(!p.has_changes(), "{:?}", p.tenant("acme").unwrap().steps);
    // Anything else still changes as it would.
    let env = plan_for(&[&edit(&edited, "LOG_LEVEL: info", "LOG_LEVEL: debug")], &observed);
    assert_eq!(env.tenant("acme").unwrap().replace_fields, ["env"]);
}

#[tokio::test]
async fn env_and_image_changes_replace_and_name_the_field() {
    let fake = converged(&[ACME]).await;
    let observed = observe(&fake).await;
    let env = plan_for(&[&edit(ACME, "LOG_LEVEL: info", "LOG_LEVEL: debug")], &observed);
    assert_eq!(env.tenant("acme").unwrap().change, ChangeKind::Replace);
    assert_eq!(env.tenant("acme").unwrap().replace_fields, ["env"]);
    let image = plan_for(&[&edit(ACME, "openclaw:2026.11", "openclaw:2026.12")], &observed);
    assert_eq!(image.tenant("acme").unwrap().replace_fields, ["image"]);
    let text = render_human(&image);
    assert!(text.contains("-image: registry.example/openclaw:2026.11"), "{text}");
    assert!(text.contains("+image: registry.example/openclaw:2026.12"), "{text}");
}

#[tokio::test]
async fn a_removed_spec_deletes_containers_and_network_but_keeps_volumes() {
    let fake = converged(&[ACME]).await;
    let p = plan_for(&[], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Delete);
    assert!(acme.steps.iter().any(|s| matches!(s, Step::RemoveContainer { .. })));
    assert!(acme.steps.iter().any(|s| matches!(s, Step::RemoveNetwork { .. })));
    assert!(acme.reasons.iter().any(|r| r.contains("volumes kept: tenantd_acme_vol-workspace")), "{:?}", acme.reasons);
    apply(&fake, &p).await;
    let after = observe(&fake).await;
    assert_eq!(after.tenants[&t("acme")].volumes, ["tenantd_acme_vol-workspace"]);
    assert!(after.tenants[&t("acme")].containers.is_empty());
}

#[tokio::test]
async fn an_invalid_spec_leaves_its_running_tenant_alone() {
    let fake = converged(&[ACME]).await;
    let invalid = BTreeMap::from([(t("acme"), vec!["tenants.d/acme.yaml:3:1: broken".to_string()])]);
    let p = plan_with(&[], &invalid, None, &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Blocked);
    assert!(matches!(&acme.blocked, Some(Blocked::Invalid { messages }) if messages[0].contains("broken")));
    assert!(acme.steps.is_empty());
}

#[tokio::test]
async fn held_deletions_keep_tenants_without_specs() {
    let fake = converged(&[ACME]).await;
    let p = plan_with(&[], &BTreeMap::new(), Some("x.yaml is unreadable"), &observe(&fake).await);
    assert!(matches!(p.tenant("acme").unwrap().blocked, Some(Blocked::DeletionHeld { .. })));
    assert!(p.tenant("acme").unwrap().steps.is_empty());
}

#[test]
fn a_foreign_object_holding_a_name_blocks_the_tenant() {
    let observed = ObservedWorld {
        foreign: vec![ForeignObject { kind: "container".into(), name: "tenantd_acme".into() }],
        ..Default::default()
    };
    let p = plan_for(&[ACME], &observed);
    assert!(matches!(p.tenant("acme").unwrap().blocked, Some(Blocked::Conflict { .. })));
}

#[tokio::test]
async fn drift_is_corrected_stopped_started_and_limits_restored() {
    let fake = converged(&[ACME]).await;
    fake.with_world(|w| {
        let c = &mut w.tenants.get_mut(&t("acme")).unwrap().containers[0];
        c.state = ContainerState::Exited { code: 137 };
        c.limits.memory_bytes = 64 << 20;
    });
    let p = plan_for(&[ACME], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::UpdateInPlace);
    assert!(acme.steps.iter().any(|s| matches!(s, Step::UpdateLimits { .. })));
    assert!(acme.steps.iter().any(|s| matches!(s, Step::StartContainer { .. })));
}

#[tokio::test]
async fn a_container_removed_behind_our_back_is_recreated_on_its_port() {
    let fake = converged(&[ACME]).await;
    let port = observe(&fake).await.tenants[&t("acme")].containers[0].host_port;
    fake.with_world(|w| w.tenants.get_mut(&t("acme")).unwrap().containers.clear());
    let p = plan_for(&[ACME], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert!(acme.steps.iter().any(|s| matches!(s, Step::CreateContainer { .. })));
    assert_eq!(acme.host_port, port);
}

#[tokio::test]
async fn re_creating_a_missing_container_is_counted_and_named_as_a_create() {
    let sidecar = format!("{ACME}  sidecars: [ {{ name: cache, image: redis:7 }} ]\n");
    let fake = converged(&[&sidecar]).await;
    // The runtime container is gone (`docker rm`); its network, volume and sidecar are there.
    fake.with_world(|w| {
        w.tenants.get_mut(&t("acme")).unwrap().containers.retain(|c| c.role != crate::render::ContainerRole::Main)
    });
    let p = plan_for(&[&sidecar], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Create, "{:?}", acme.steps);
    assert!(acme.reasons.iter().any(|r| r.contains("tenantd_acme is missing: create")), "{:?}", acme.reasons);
    let human = render_human(&p);
    assert!(human.starts_with("Plan: 1 to create, 0 to update in place,"), "{human}");
    assert!(human.contains("+ acme: create"), "{human}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&p)).unwrap();
    assert_eq!((json["summary"]["create"].as_u64(), json["summary"]["updateInPlace"].as_u64()), (Some(1), Some(0)));
    assert_eq!(json["tenants"][0]["change"], "create");
}

#[tokio::test]
async fn suspend_stops_and_unsuspend_starts() {
    let fake = converged(&[ACME]).await;
    let suspended = format!("{ACME}  suspend: true\n");
    let p = plan_for(&[&suspended], &observe(&fake).await);
    assert!(matches!(p.tenant("acme").unwrap().steps.as_slice(), [Step::StopContainer { .. }]));
    apply(&fake, &p).await;
    let p = plan_for(&[ACME], &observe(&fake).await);
    assert!(matches!(p.tenant("acme").unwrap().steps.as_slice(), [Step::StartContainer { .. }]));
}

#[tokio::test]
async fn a_failed_pull_touches_nothing_running() {
    let fake = converged(&[ACME]).await;
    fake.fail_pulls_of("registry.example/openclaw:2026.12");
    let edited = edit(ACME, "openclaw:2026.11", "openclaw:2026.12");
    let p = plan_for(&[&edited], &observe(&fake).await);
    let outcomes = apply(&fake, &p).await;
    assert!(matches!(&outcomes[&t("acme")].fact, crate::status::ApplyFact::Failed { image_pull: true, .. }));
    let mutations: Vec<Call> = fake.calls().into_iter().filter(Call::is_mutation).collect();
    assert_eq!(mutations, [Call::EnsureImage("registry.example/openclaw:2026.12".into())]);
}

#[tokio::test]
async fn one_tenants_failure_does_not_stop_another() {
    let beta = edit(&edit(ACME, "name: acme", "name: beta"), "openclaw:2026.11", "openclaw:broken");
    let fake = FakeRuntime::new();
    fake.fail_pulls_of("registry.example/openclaw:broken");
    let p = plan_for(&[ACME, &beta], &ObservedWorld::default());
    let outcomes = apply(&fake, &p).await;
    assert!(matches!(outcomes[&t("acme")].fact, crate::status::ApplyFact::Applied));
    assert!(matches!(outcomes[&t("beta")].fact, crate::status::ApplyFact::Failed { .. }));
}

#[tokio::test]
async fn execution_reports_each_step_and_the_end_of_every_tenant_with_work() {
    use crate::reconcile::{execute_reporting, ExecEvent, ProgressSink};
    use std::sync::{Arc, Mutex};
    let beta = edit(&edit(ACME, "name: acme", "name: beta"), "openclaw:2026.11", "openclaw:broken");
    let gamma = edit(ACME, "name: acme", "name: gamma");
    let fake = converged(&[&gamma]).await;
    fake.fail_pulls_of("registry.example/openclaw:broken");
    let p = plan_for(&[ACME, &beta, &gamma], &observe(&fake).await);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let sink = ProgressSink::new(move |e| {
        let line = match e {
            ExecEvent::Started { tenant, steps } => format!("{tenant} started {steps}"),
            ExecEvent::Step { tenant, index, total, step } => {
                format!("{tenant} {index}/{total} {}", crate::plan::describe_step(step))
            }
            ExecEvent::WaitingHealthy { tenant } => format!("{tenant} waiting"),
            ExecEvent::Finished { tenant, outcome } => format!("{tenant} finished {:?}", outcome.fact),
        };
        seen.lock().unwrap().push(line);
    });
    let no_wait = WaitPolicy { enabled: false, max: std::time::Duration::ZERO };
    execute_reporting(&fake, &p, 1, &(19000..=19999), no_wait, None, Some(sink)).await;
    let events = events.lock().unwrap().clone();
    let of = |t: &str| events.iter().filter(|e| e.starts_with(&format!("{t} "))).cloned().collect::<Vec<_>>();
    let acme = of("acme");
    assert_eq!(acme.first().map(String::as_str), Some("acme started 4"), "{events:#?}");
    assert!(acme[1].starts_with("acme 1/4 ensure image"), "{events:#?}");
    assert!(acme[4].starts_with("acme 4/4 create container"), "{events:#?}");
    assert_eq!(acme.last().map(String::as_str), Some("acme finished Applied"), "{events:#?}");
    let beta = of("beta");
    assert!(beta.last().unwrap().starts_with("beta finished Failed"), "{events:#?}");
    assert_eq!(beta.len(), 3, "the first step fails and ends the tenant: {events:#?}");
    assert!(of("gamma").is_empty(), "an unchanged tenant has nothing to report: {events:#?}");
}

#[tokio::test]
async fn plan_output_snapshots() {
    let gamma = edit(ACME, "name: acme", "name: gamma");
    let delta = edit(ACME, "name: acme", "name: delta");
    let fake = converged(&[ACME, &gamma, &delta]).await;
    let beta = edit(ACME, "name: acme", "name: beta");
    let specs = [edit(ACME, "memory: 512Mi", "memory: 1Gi"), beta, edit(&gamma, "LOG_LEVEL: info", "LOG_LEVEL: debug")];
    let refs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let invalid = BTreeMap::from([(
        t("epsilon"),
        vec!["tenants.d/epsilon.yaml:4:3: /spec: unknown field \"imagee\"".to_string()],
    )]);
    let p = plan_with(&refs, &invalid, None, &observe(&fake).await);
    insta::assert_snapshot!("plan_human", render_human(&p));
    insta::assert_snapshot!("plan_json", render_json(&p));

    // Colour only adds escapes around whole lines: stripped of them, the text is the same.
    assert_eq!(crate::plan::render_human_coloured(&p, false), render_human(&p));
    let coloured = crate::plan::render_human_coloured(&p, true);
    assert!(coloured.contains("\u{1b}[32m+ beta: create\u{1b}[0m"), "{coloured}");
    assert!(coloured.contains("\u{1b}[33m~ acme: update in place\u{1b}[0m"), "{coloured}");
    assert!(coloured.contains("\u{1b}[31m-  LOG_LEVEL: info\u{1b}[0m"), "{coloured}");
    assert!(coloured.contains("\u{1b}[32m+  LOG_LEVEL: debug\u{1b}[0m"), "{coloured}");
    let stripped = ["\u{1b}[0m", "\u{1b}[1m", "\u{1b}[31m", "\u{1b}[32m", "\u{1b}[33m", "\u{1b}[35m", "\u{1b}[36m"]
        .iter()
        .fold(coloured.clone(), |text, escape| text.replace(escape, ""));
    assert_eq!(stripped, render_human(&p));
}

#[test]
fn hashes_are_pinned_so_upgrades_do_not_recreate() {
    // If this fails, a change altered how an unchanged spec hashes: every running container
    // would be recreated on upgrade. Keep old specs hashing the same (see render::hash).
    let d = render(&spec(ACME), &instance(), &roots());
    insta::assert_snapshot!(
        "acme_hashes",
        format!("config: {}\nspec: {}\nfields: {:?}", d.main().config_hash, d.spec_hash, d.main().field_hashes)
    );
}

#[tokio::test]
async fn a_scoped_plan_covers_only_its_tenants_and_deletes_nothing_outside_them() {
    let globex = edit(ACME, "name: acme", "name: globex");
    let fake = converged(&[ACME, &globex]).await;
    let observed = observe(&fake).await;
    // Only acme's spec is at hand; globex is observed but outside the scope, so it is not deleted.
    let desired = desired(&[&edit(ACME, "memory: 512Mi", "memory: 1Gi")]);
    let ports = allocate(&desired.keys().cloned().collect(), &observed.host_ports(), &(19000..=19999), |_| true);
    let scope: BTreeSet<TenantName> = [t("acme"), t("initech")].into();
    let p = plan(PlanInput {
        desired: &desired,
        invalid: &BTreeMap::new(),
        hold_deletions: None,
        observed: &observed,
        ports: &ports,
        rolled_back: &BTreeMap::new(),
        delivered: &BTreeMap::new(),
        only: Some(&scope),
        earlier_builds: &BTreeMap::new(),
        ingress_routes: &BTreeMap::new(),
    });
    let names: Vec<&str> = p.tenants.iter().map(|tp| tp.tenant.as_str()).collect();
    assert_eq!(names, ["acme"], "a tenant named nowhere is skipped, one outside the scope too");
    assert_eq!(p.tenant("acme").unwrap().change, ChangeKind::UpdateInPlace);
}

#[tokio::test]
async fn a_sidecar_health_check_runs_on_its_port_and_adding_one_replaces_only_the_sidecar() {
    let with_sidecar = format!("{ACME}  sidecars: [ {{ name: cache, image: redis:7 }} ]\n");
    let d = render(&spec(&with_sidecar), &instance(), &roots());
    assert!(d.containers[1].health.is_none() && d.containers[1].port.is_none());
    let fake = converged(&[&with_sidecar]).await;

    let checked = edit(
        &with_sidecar,
        "image: redis:7 }",
        "image: redis:7, port: 6380, health: { path: /ping, probeCommand: [probe] } }",
    );
    let d2 = render(&spec(&checked), &instance(), &roots());
    let health = d2.containers[1].health.as_ref().expect("the sidecar's healthcheck");
    assert_eq!(health.command, ["probe", "http://127.0.0.1:6380/ping"]);
    assert_eq!(d2.containers[1].publish_port, None, "a sidecar's port is never published");
    assert_eq!(d2.main().config_hash, d.main().config_hash, "the runtime is not touched");

    let p = plan_for(&[&checked], &observe(&fake).await);
    let replaced: Vec<&str> = p
        .tenant("acme")
        .unwrap()
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::ReplaceContainer { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(replaced, ["tenantd_acme_cache"]);
}

/// A tenant built from a context whose digest gives `digest` (as a release would tag it).
fn built(digest: &str) -> BTreeMap<TenantName, std::sync::Arc<crate::render::DesiredTenant>> {
    let yaml = edit(ACME, "image: registry.example/openclaw:2026.11", "build: { context: ctx }");
    let mut loaded = spec(&yaml);
    let context = crate::spec::BuildContext {
        dir: PathBuf::from("/srv/ctx"),
        dockerfile: "Dockerfile".into(),
        digest: digest.repeat(64 / digest.len()),
    };
    loaded.contexts.insert("/spec/build".into(), context);
    let d = render(&loaded, &instance(), &roots());
    [(d.name.clone(), std::sync::Arc::new(d))].into()
}

#[tokio::test]
async fn a_container_an_earlier_release_built_from_the_same_files_is_kept() {
    // What an earlier release created: the same settings, another digest in the tag.
    let earlier = built("e");
    let fake = FakeRuntime::new();
    let observed = observe(&fake).await;
    let ports = allocate(&earlier.keys().cloned().collect(), &observed.host_ports(), &(19000..=19999), |_| true);
    let (none, invalid, rolled_back, delivered) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let none_routes = BTreeMap::new();
    let input = |desired, observed, earlier_builds| PlanInput {
        desired,
        invalid: &invalid,
        hold_deletions: None,
        observed,
        ports: &ports,
        rolled_back: &rolled_back,
        delivered: &delivered,
        only: None,
        earlier_builds,
        ingress_routes: &none_routes,
    };
    apply(&fake, &plan(input(&earlier, &observed, &none))).await;
    let observed = observe(&fake).await;

    let now = built("a");
    let (tag, earlier_tag) = (now[&t("acme")].main().image.reference(), earlier[&t("acme")].main().image.reference());
    assert_ne!(tag, earlier_tag);
    // The context's files give the earlier tag: nothing to do.
    let same_files: BTreeMap<String, String> = [(tag.to_string(), earlier_tag.to_string())].into();
    let p = plan(input(&now, &observed, &same_files));
    assert_eq!(p.tenant("acme").unwrap().change, ChangeKind::NoChange, "{}", render_human(&p));
    // They give another one (the context changed since): built and replaced.
    let other_files: BTreeMap<String, String> = [(tag.to_string(), format!("{earlier_tag}0"))].into();
    for earlier_builds in [&other_files, &none] {
        let p = plan(input(&now, &observed, earlier_builds));
        let acme = p.tenant("acme").unwrap();
        assert_eq!(acme.change, ChangeKind::Replace, "{}", render_human(&p));
        assert!(acme.reasons.iter().any(|r| r.contains("image changed")), "{:?}", acme.reasons);
    }
    // Another setting changed too: replaced for that setting.
    let edited = built("a");
    let mut d = (*edited[&t("acme")]).clone();
    d.containers[0].field_hashes.insert("env".into(), "other".into());
    d.containers[0].config_hash = "v1:other".into();
    let edited: BTreeMap<_, _> = [(t("acme"), std::sync::Arc::new(d))].into();
    let p = plan(input(&edited, &observed, &same_files));
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Replace);
    assert!(acme.reasons.iter().any(|r| r.contains("env changed") && !r.contains("image")), "{:?}", acme.reasons);
}
