//! Executing against the recording fake when a step fails after a container was stopped:
//! whatever the run stopped is started again, and the tenant runs on its old container.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{execute, TenantOutcome, WaitPolicy};
use crate::plan::{plan, ChangeKind, Plan, PlanInput, Step};
use crate::ports::allocate;
use crate::render::{render, FileRoots};
use crate::runtime::fake::{Call, FakeRuntime};
use crate::runtime::{ContainerState, ObservedContainer, ObservedWorld, Runtime};
use crate::spec::{LoadedSpec, TenantFile, TenantName};
use crate::status::ApplyFact;

const ACME: &str = r#"
apiVersion: tenantd/v1
kind: Tenant
metadata: { name: acme }
spec:
  image: registry.example/openclaw:2026.11
  port: 18789
  env: { LOG_LEVEL: info }
  volumes: [ { name: workspace, mountPath: /data } ]
  rollout: { strategy: stopFirst }
"#;

fn acme() -> TenantName {
    "acme".parse().unwrap()
}

fn plan_of(yaml: &str, observed: &ObservedWorld) -> Plan {
    let file: TenantFile = serde_yaml::from_str(yaml).unwrap();
    let spec = LoadedSpec { path: "tenants.d/acme.yaml".into(), file, contexts: BTreeMap::new() };
    let roots = FileRoots {
        config: "/var/lib/tenantd/runtime-config".into(),
        secrets: "/run/tenantd/secrets".into(),
        ingress: "/var/lib/tenantd/ingress".into(),
    };
    let d = render(&spec, &"tenantd".parse().unwrap(), &roots);
    let desired = BTreeMap::from([(d.name.clone(), Arc::new(d))]);
    let ports = allocate(&desired.keys().cloned().collect(), &observed.host_ports(), &(19000..=19999), |_| true);
    plan(PlanInput {
        desired: &desired,
        invalid: &BTreeMap::new(),
        hold_deletions: None,
        observed,
        ports: &ports,
        rolled_back: &BTreeMap::new(),
        delivered: &BTreeMap::new(),
        only: None,
        earlier_builds: &BTreeMap::new(),
        ingress_routes: &BTreeMap::new(),
    })
}

async fn run(fake: &FakeRuntime, p: &Plan) -> TenantOutcome {
    let no_wait = WaitPolicy { enabled: false, max: Duration::ZERO };
    execute(fake, p, 1, &(19000..=19999), no_wait, None).await.remove(&acme()).unwrap()
}

/// A fake with acme converged, and acme's runtime container as it runs.
async fn converged() -> (FakeRuntime, ObservedContainer) {
    let fake = FakeRuntime::new();
    run(&fake, &plan_of(ACME, &ObservedWorld::default())).await;
    let main = fake.observe(&[], &[]).await.unwrap().tenants[&acme()].containers[0].clone();
    assert_eq!(main.state, ContainerState::Running);
    fake.clear_calls();
    (fake, main)
}

/// acme's containers as the fake holds them now.
async fn containers(fake: &FakeRuntime) -> Vec<ObservedContainer> {
    fake.observe(&[], &[]).await.unwrap().tenants[&acme()].containers.clone()
}

#[tokio::test]
async fn a_failed_rename_after_the_stop_starts_the_old_container_again() {
    let (fake, old) = converged().await;
    let edited = ACME.replace("LOG_LEVEL: info", "LOG_LEVEL: debug");
    let p = plan_of(&edited, &fake.observe(&[], &[]).await.unwrap());
    assert!(matches!(p.tenant("acme").unwrap().steps.last(), Some(Step::ReplaceContainer { .. })));
    // The engine refuses to set the old container aside (its aside name is taken).
    fake.fail_calls(
        |c| matches!(c, Call::RenameContainer(_, to) if to.ends_with(".previous")),
        "name in use (HTTP 409)",
    );

    let outcome = run(&fake, &p).await;
    let ApplyFact::Failed { message, .. } = &outcome.fact else { panic!("{:?}", outcome.fact) };
    assert!(message.contains("name in use") && message.contains("runs again as it was"), "{message}");
    let mutations: Vec<Call> = fake.calls().into_iter().filter(Call::is_mutation).collect();
    assert_eq!(
        mutations[1..],
        [
            Call::StopContainer(old.id.clone()),
            Call::RenameContainer(old.id.clone(), "tenantd_acme.previous".into()),
            Call::RenameContainer(old.id.clone(), "tenantd_acme".into()),
            Call::StartContainer(old.id.clone()),
        ],
        "{mutations:?}"
    );
    let now = containers(&fake).await;
    assert_eq!(now.len(), 1);
    assert_eq!((&now[0].id, &now[0].name, now[0].state), (&old.id, &old.name, ContainerState::Running));
}

#[tokio::test]
async fn a_new_container_that_cannot_start_gives_way_to_the_old_one() {
    let (fake, old) = converged().await;
    let edited = ACME.replace("LOG_LEVEL: info", "LOG_LEVEL: debug");
    let p = plan_of(&edited, &fake.observe(&[], &[]).await.unwrap());
    assert_eq!(p.tenant("acme").unwrap().change, ChangeKind::Replace);
    let old_id = old.id.clone();
    fake.fail_calls(move |c| matches!(c, Call::StartContainer(id) if *id != old_id), "exec format error");

    let outcome = run(&fake, &p).await;
    assert!(matches!(&outcome.fact, ApplyFact::Failed { message, .. } if message.contains("exec format error")));
    // The new container is gone; the old one runs under its own name again.
    let now = containers(&fake).await;
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!((&now[0].id, &now[0].name, now[0].state), (&old.id, &old.name, ContainerState::Running));
}
