//! Plans of tenants on a cluster: pure, no API server. The observed state is the rendered
//! objects "as applied", with what an API server adds (defaults, canonical quantities, a pod).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::render::kubernetes::{KubeOptions, ObjectKind};
use crate::render::{render_for, ContainerRole, DesiredTenant, Limits};
use crate::runtime::{
    ContainerState, EngineHealth, ForeignObject, ObservedContainer, ObservedObject, ObservedTenant, ObservedWorld,
};
use crate::spec::{LoadedSpec, TenantFile, TenantName};

const ACME: &str = r#"
apiVersion: tenantd/v1
kind: Tenant
metadata: { name: acme }
spec:
  image: registry.example/openclaw:2026.11
  env: { LOG_LEVEL: info }
  resources: { memory: 512Mi, cpus: 1, pids: 256 }
  volumes: [ { name: workspace, mountPath: /home/node/.openclaw/workspaces } ]
"#;

fn t(s: &str) -> TenantName {
    s.parse().unwrap()
}

fn desired(yaml: &str) -> Arc<DesiredTenant> {
    let file: TenantFile = serde_yaml::from_str(yaml).unwrap();
    let spec = LoadedSpec { path: PathBuf::from("tenants.d/acme.yaml"), file, contexts: BTreeMap::new() };
    let roots = crate::render::FileRoots { config: "/c".into(), secrets: "/s".into(), ingress: "/i".into() };
    Arc::new(render_for(&spec, &t("tenantd"), &roots, Some(&KubeOptions::default())))
}

/// The tenant's objects as an API server would hold them after an apply: with a uid, server
/// defaults, canonical quantities, a Deployment status, and the runtime's pod running.
fn as_applied(d: &DesiredTenant) -> ObservedTenant {
    let objects = d
        .cluster
        .as_ref()
        .unwrap()
        .iter()
        .map(|o| {
            let mut live = o.manifest.clone();
            live["metadata"]["uid"] = json!(format!("uid-{}-{}", o.kind, o.name));
            live["metadata"]["resourceVersion"] = json!("7");
            if o.kind == ObjectKind::Deployment {
                live["spec"]["revisionHistoryLimit"] = json!(10);
                let limits = &mut live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
                limits["cpu"] = json!("1"); // sent as 1000m
                live["status"] = json!({"observedGeneration": 1, "replicas": 1, "availableReplicas": 1});
            }
            if o.kind == ObjectKind::Namespace {
                live["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(o.name);
            }
            ObservedObject {
                kind: o.kind,
                name: o.name.clone(),
                uid: format!("uid-{}-{}", o.kind, o.name),
                applied_hash: Some(o.hash.clone()),
                live,
                values_intact: true,
            }
        })
        .collect();
    let mut t = ObservedTenant::empty(d.name.clone());
    t.objects = objects;
    t.containers = vec![ObservedContainer {
        id: "containerd://1".into(),
        name: "runtime".into(),
        role: ContainerRole::Main,
        image_ref: "registry.example/openclaw:2026.11".into(),
        image_id: "sha256:1".into(),
        config_hash: None,
        field_hashes: BTreeMap::new(),
        spec_hash: None,
        applied: None,
        state: ContainerState::Running,
        health: EngineHealth::Healthy,
        limits: Limits { memory_bytes: 512 << 20, nano_cpus: 1_000_000_000, pids: 0 },
        host_port: None,
        restart_count: 0,
        started_at: None,
        networks: vec![],
        problem: None,
    }];
    t
}

fn world(tenants: Vec<ObservedTenant>) -> ObservedWorld {
    ObservedWorld { tenants: tenants.into_iter().map(|t| (t.name.clone(), t)).collect(), ..Default::default() }
}

fn plan_of(specs: &[Arc<DesiredTenant>], observed: &ObservedWorld) -> Plan {
    let desired = specs.iter().map(|d| (d.name.clone(), Arc::clone(d))).collect();
    plan(PlanInput {
        desired: &desired,
        invalid: &BTreeMap::new(),
        hold_deletions: None,
        observed,
        ports: &BTreeMap::new(),
        rolled_back: &BTreeMap::new(),
        delivered: &BTreeMap::new(),
        only: None,
        earlier_builds: &BTreeMap::new(),
        ingress_routes: &BTreeMap::new(),
    })
}

fn steps(tp: &TenantPlan) -> Vec<String> {
    tp.steps
        .iter()
        .map(|s| match s {
            Step::ApplyObject { kind, name, .. } => format!("apply {kind}/{name}"),
            Step::DeleteObject { kind, name, .. } => format!("delete {kind}/{name}"),
            other => panic!("a cluster plan has no {other:?}"),
        })
        .collect()
}

fn deployment(t: &mut ObservedTenant) -> &mut Value {
    &mut t.objects.iter_mut().find(|o| o.kind == ObjectKind::Deployment).unwrap().live
}

#[test]
fn a_new_tenant_applies_every_object_in_order() {
    let p = plan_of(&[desired(ACME)], &ObservedWorld::default());
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Create);
    assert_eq!(
        steps(acme),
        [
            "apply Namespace/tenantd-acme",
            "apply ServiceAccount/runtime",
            "apply NetworkPolicy/default-deny",
            "apply PersistentVolumeClaim/vol-workspace",
            "apply Service/runtime",
            "apply Deployment/runtime"
        ]
    );
    assert!(acme.reasons.is_empty(), "{:?}", acme.reasons);
}

#[test]
fn what_the_server_adds_is_no_change() {
    let d = desired(ACME);
    let p = plan_of(std::slice::from_ref(&d), &world(vec![as_applied(&d)]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!((acme.change, acme.steps.len()), (ChangeKind::NoChange, 0), "{:?}", acme.reasons);
}

#[test]
fn a_pod_setting_replaces_the_pod_and_names_the_field() {
    let before = desired(ACME);
    let observed = world(vec![as_applied(&before)]);
    let p = plan_of(&[desired(&ACME.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))], &observed);
    let acme = p.tenant("acme").unwrap();
    assert_eq!((acme.change, acme.replace_fields.as_slice()), (ChangeKind::Replace, &["env".to_string()][..]));
    assert_eq!(steps(acme), ["apply Deployment/runtime"]);
    assert!(acme.reasons[0].contains("spec.template.spec.containers[runtime].env[LOG_LEVEL].value changed in the spec"));
    let text = render_human(&p);
    assert!(text.contains("-          value: info") && text.contains("+          value: debug"), "{text}");

    let p = plan_of(&[desired(&ACME.replace("memory: 512Mi", "memory: 1Gi"))], &observed);
    assert_eq!(p.tenant("acme").unwrap().replace_fields, ["resources"]);
}

#[test]
fn a_tenant_without_volumes_is_replaced_start_first_and_one_with_volumes_stop_first() {
    let deployment = |d: &DesiredTenant| {
        d.cluster.as_ref().unwrap().iter().find(|o| o.kind == ObjectKind::Deployment).unwrap().manifest.clone()
    };
    let without = ACME.replace("  volumes: [ { name: workspace, mountPath: /home/node/.openclaw/workspaces } ]\n", "");
    assert_ne!(without, ACME);
    let before = desired(&without);
    assert_eq!(
        deployment(&before)["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    );
    let p =
        plan_of(&[desired(&without.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))], &world(vec![as_applied(&before)]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!((acme.change, acme.strategy), (ChangeKind::Replace, Some(ReplaceStrategy::StartFirst)));
    assert!(render_human(&p).contains("-/+ acme: replace (start first, because of: env)"), "{}", render_human(&p));
    assert!(acme.reasons.iter().any(|r| r.contains("maxUnavailable 0")), "{:?}", acme.reasons);

    let with = desired(ACME);
    assert_eq!(deployment(&with)["spec"]["strategy"], json!({"type": "Recreate"}));
    let p = plan_of(&[desired(&ACME.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))], &world(vec![as_applied(&with)]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.strategy, Some(ReplaceStrategy::StopFirst));
    assert!(acme.reasons.iter().any(|r| r.contains("volume claims take one pod at a time")), "{:?}", acme.reasons);
    assert!(render_json(&p).contains(r#""strategy": "stopFirst""#), "{}", render_json(&p));

    // A spec that asks for stop first gets it, volumes or not.
    let asked = format!("{without}  rollout: {{ strategy: stopFirst }}\n");
    assert_eq!(deployment(&desired(&asked))["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn suspending_scales_to_zero_in_place() {
    let d = desired(ACME);
    let p = plan_of(&[desired(&format!("{ACME}  suspend: true\n"))], &world(vec![as_applied(&d)]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::UpdateInPlace, "{:?}", acme.reasons);
    assert!(acme.reasons[0].contains("spec.replicas changed in the spec"), "{:?}", acme.reasons);
}

#[test]
fn drift_is_named_and_set_back() {
    let d = desired(ACME);
    let mut observed = as_applied(&d);
    deployment(&mut observed)["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:1");
    observed.objects.retain(|o| o.kind != ObjectKind::Service);
    let p = plan_of(&[d], &world(vec![observed]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!(steps(acme), ["apply Service/runtime", "apply Deployment/runtime"]);
    assert!(acme.reasons.contains(&"Service runtime is missing: create".to_string()), "{:?}", acme.reasons);
    assert!(acme.reasons.iter().any(|r| r.ends_with("image changed outside tenantd (drift): set back")));
    assert_eq!(acme.replace_fields, ["image"]);
}

#[test]
fn a_changed_secret_value_is_set_back_without_a_diff() {
    let spec = format!(
        "{ACME}  secrets:\n    GW:\n      value: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        YQ==\n        -----END AGE ENCRYPTED FILE-----\n"
    );
    let d = desired(&spec);
    let mut observed = as_applied(&d);
    observed.objects.iter_mut().find(|o| o.kind == ObjectKind::Secret).unwrap().values_intact = false;
    let p = plan_of(&[d], &world(vec![observed]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!(steps(acme), ["apply Secret/runtime-secrets"]);
    assert!(acme.diffs.is_empty(), "a Secret never gets a diff");
    assert_eq!(acme.reasons, ["Secret runtime-secrets: (sensitive values changed outside tenantd): set back"]);
}

#[test]
fn a_tenant_without_a_spec_loses_all_but_its_namespace_and_claims() {
    let d = desired(ACME);
    let p = plan_of(&[], &world(vec![as_applied(&d)]));
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Delete);
    assert_eq!(
        steps(acme),
        [
            "delete Deployment/runtime",
            "delete Service/runtime",
            "delete NetworkPolicy/default-deny",
            "delete ServiceAccount/runtime"
        ]
    );
    assert!(matches!(&acme.steps[0], Step::DeleteObject { uid, .. } if uid == "uid-Deployment-runtime"));
    assert_eq!(acme.reasons[1], "kept (they hold data): Namespace tenantd-acme, PersistentVolumeClaim vol-workspace");

    let mut left = as_applied(&d);
    left.objects.retain(|o| o.kind.kept_on_delete());
    left.containers.clear();
    let p = plan_of(&[], &world(vec![left]));
    assert_eq!(p.tenant("acme").unwrap().change, ChangeKind::NoChange);
    assert!(!p.has_changes());
}

#[test]
fn a_volume_the_spec_drops_keeps_its_claim() {
    let d = desired(ACME);
    let without = ACME.replace("  volumes: [ { name: workspace, mountPath: /home/node/.openclaw/workspaces } ]\n", "");
    let p = plan_of(&[desired(&without)], &world(vec![as_applied(&d)]));
    let acme = p.tenant("acme").unwrap();
    assert!(!steps(acme).iter().any(|s| s.contains("PersistentVolumeClaim")), "{:?}", steps(acme));
    assert!(acme
        .reasons
        .contains(&"PersistentVolumeClaim vol-workspace is no longer used: kept (it holds data)".into()));
}

#[test]
fn a_namespace_of_another_owner_blocks_the_tenant() {
    let observed = ObservedWorld {
        foreign: vec![ForeignObject { kind: "namespace".into(), name: "tenantd-acme".into() }],
        ..Default::default()
    };
    let p = plan_of(&[desired(ACME)], &observed);
    let acme = p.tenant("acme").unwrap();
    assert!(matches!(&acme.blocked, Some(Blocked::Conflict { objects }) if objects[0].name == "tenantd-acme"));
    assert!(acme.steps.is_empty());
}

#[test]
fn the_human_plan_of_an_edit() {
    let observed = world(vec![as_applied(&desired(ACME))]);
    let edited = ACME.replace("LOG_LEVEL: info", "LOG_LEVEL: debug").replace("cpus: 1", "cpus: 2");
    insta::assert_snapshot!(render_human(&plan_of(&[desired(&edited)], &observed)));
}

#[test]
fn rendered_objects_are_labelled_and_hashed() {
    let d = desired(ACME);
    for o in d.cluster.as_ref().unwrap() {
        assert_eq!(o.manifest["metadata"]["labels"]["io.tenantd.instance"], "tenantd", "{}", o.kind);
        assert_eq!(o.manifest["metadata"]["annotations"][crate::render::kubernetes::APPLIED_HASH], o.hash.as_str());
    }
    assert_eq!(d.wanted_names(), ["tenantd-acme"]);
    assert!(d.images().is_empty(), "a cluster's nodes pull images");
}

#[test]
fn names_a_cluster_would_refuse_block_the_tenant_before_any_call() {
    let long = "a".repeat(60);
    let d = desired(
        &ACME.replace("name: acme", &format!("name: {long}")).replace("name: workspace", &format!("name: {long}")),
    );
    let p = plan_of(&[d], &ObservedWorld::default());
    let tp = &p.tenants[0];
    let Some(Blocked::Invalid { messages }) = &tp.blocked else { panic!("{tp:?}") };
    assert!(messages[0].contains("namespace tenantd-aaaa") && messages[0].contains("by 5"), "{messages:?}");
    assert!(messages[1].contains(&format!("volume vol-{long}")) && messages[1].contains("by 1"), "{messages:?}");
    assert!(tp.steps.is_empty());
}

#[test]
fn a_missing_deployment_of_an_existing_tenant_is_a_create_not_an_update_in_place() {
    let d = desired(ACME);
    let mut o = as_applied(&d);
    o.objects.retain(|x| x.kind != ObjectKind::Deployment);
    o.containers.clear();
    let plan = plan_of(&[d], &world(vec![o]));
    let acme = plan.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Create, "{:?}", acme.reasons);
    assert_eq!(plan.count(ChangeKind::UpdateInPlace), 0);
    assert!(
        acme.reasons.iter().any(|r| r.starts_with("Deployment ") && r.ends_with("is missing: create")),
        "{:?}",
        acme.reasons
    );
}
