//! Plans of tenants behind an ingress: the ingress holds the published port, the runtime
//! publishes nothing and is replaced start first; a runtime made before ingresses keeps its
//! port until it is replaced anyway; after an interrupted start-first replacement the runtime
//! the ingress forwards to is the one kept.

use std::collections::BTreeMap;

use super::tests::{apply, desired, edit, observe, plan_routed_with, t, ACME};
use super::*;
use crate::plan::compute::main_address;
use crate::render::{aside_name, ContainerRole};
use crate::runtime::fake::FakeRuntime;
use crate::runtime::{ContainerEngine, ObservedWorld};
use crate::spec::TenantName;

/// ACME with the default rollout: start first, behind an ingress.
fn start_first() -> String {
    ACME.replace("  rollout: { strategy: stopFirst }\n", "")
}

fn plan_routed(specs: &[&str], observed: &ObservedWorld, routes: &BTreeMap<TenantName, String>) -> Plan {
    plan_routed_with(specs, &BTreeMap::new(), None, observed, routes)
}

/// Where the ingress forwards once it was pointed at the main container that runs.
fn routes_to_main(observed: &ObservedWorld) -> BTreeMap<TenantName, String> {
    let o = &observed.tenants[&t("acme")];
    let main = o.container(&ContainerRole::Main).unwrap();
    BTreeMap::from([(t("acme"), main_address(main, "tenantd_acme", 18789).unwrap())])
}

async fn converged(spec: &str) -> (FakeRuntime, ObservedWorld) {
    let fake = FakeRuntime::new();
    apply(&fake, &plan_routed(&[spec], &ObservedWorld::default(), &BTreeMap::new())).await;
    let observed = observe(&fake).await;
    (fake, observed)
}

fn created_ports(p: &TenantPlan) -> Vec<(String, Option<u16>)> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::CreateContainer { name, host_port, .. } => Some((name.clone(), *host_port)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_tenant_gets_an_ingress_on_its_port_and_a_runtime_that_publishes_nothing() {
    let p = plan_routed(&[&start_first()], &ObservedWorld::default(), &BTreeMap::new());
    let acme = p.tenant("acme").unwrap();
    let port = acme.host_port.expect("a host port");
    assert_eq!(
        created_ports(acme),
        [("tenantd_acme".to_string(), None), ("tenantd_acme_ingress".to_string(), Some(port))]
    );
    let ingress = acme.desired.as_ref().unwrap().ingress().unwrap();
    assert!(ingress.binds.iter().all(|b| b.writable && b.source == "/var/lib/tenantd/ingress/acme"));
    assert!(matches!(acme.steps[1], Step::EnsureImage { image: crate::render::ImageSource::Ingress { .. } }));
}

#[tokio::test]
async fn an_env_change_replaces_the_runtime_start_first_and_leaves_the_ingress_alone() {
    let (_fake, observed) = converged(&start_first()).await;
    let routes = routes_to_main(&observed);
    assert!(!plan_routed(&[&start_first()], &observed, &routes).has_changes());

    let changed = edit(&start_first(), "LOG_LEVEL: info", "LOG_LEVEL: debug");
    let p = plan_routed(&[&changed], &observed, &routes);
    let acme = p.tenant("acme").unwrap();
    assert_eq!((acme.change, acme.strategy), (ChangeKind::Replace, Some(ReplaceStrategy::StartFirst)));
    assert!(
        matches!(
            &acme.steps[..],
            [
                Step::EnsureImage { .. },
                Step::ReplaceContainer { strategy: ReplaceStrategy::StartFirst, host_port: None, .. }
            ]
        ),
        "{:#?}",
        acme.steps
    );
    let text = render_human(&p);
    assert!(text.contains("acme: replace (start first, because of: env)"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&p)).unwrap();
    assert_eq!(json["tenants"][0]["strategy"], "startFirst");
}

#[tokio::test]
async fn an_ingress_pointed_elsewhere_is_pointed_at_the_runtime_again() {
    let (_fake, observed) = converged(&start_first()).await;
    let right = routes_to_main(&observed)[&t("acme")].clone();
    let wrong = BTreeMap::from([(t("acme"), "10.0.0.99:18789".to_string())]);
    let p = plan_routed(&[&start_first()], &observed, &wrong);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.steps, [Step::RouteIngress { name: "tenantd_acme_ingress".into(), to: right }]);
    assert_eq!(acme.change, ChangeKind::UpdateInPlace);
}

#[tokio::test]
async fn a_runtime_made_before_ingresses_keeps_its_port_until_it_is_replaced() {
    // Made by a tenantd without ingresses: the runtime publishes the port itself.
    let (_fake, observed) = converged(ACME).await;
    let port = observed.tenants[&t("acme")].container(&ContainerRole::Main).unwrap().host_port.unwrap();

    let p = plan_routed(&[&start_first()], &observed, &BTreeMap::new());
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::NoChange, "{:#?}", acme);
    assert!(acme.reasons.iter().any(|r| r.contains("publishes the tenant's port itself")), "{:?}", acme.reasons);

    // Its next replacement moves the port to the ingress.
    let changed = edit(&start_first(), "LOG_LEVEL: info", "LOG_LEVEL: debug");
    let p = plan_routed(&[&changed], &observed, &BTreeMap::new());
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.strategy, Some(ReplaceStrategy::StartFirst));
    assert!(matches!(
        acme.steps.iter().find(|s| matches!(s, Step::ReplaceContainer { .. })),
        Some(Step::ReplaceContainer { host_port: None, .. })
    ));
    assert_eq!(created_ports(acme), [("tenantd_acme_ingress".to_string(), Some(port))]);
}

#[tokio::test]
async fn after_an_interrupted_start_first_replacement_the_runtime_the_ingress_forwards_to_stays() {
    let (fake, observed) = converged(&start_first()).await;
    let old = observed.tenants[&t("acme")].container(&ContainerRole::Main).unwrap().clone();
    let to_old = routes_to_main(&observed);
    // Cut short while the new one proved itself: the old one set aside, the new one running.
    let changed = edit(&start_first(), "LOG_LEVEL: info", "LOG_LEVEL: debug");
    let new_main = desired(&[&changed])[&t("acme")].main().clone();
    fake.rename_container(&old.id, &aside_name(&old.name)).await.unwrap();
    let new_id = fake.create_container(&t("acme"), "v1:x", &new_main, "tenantd_acme", None).await.unwrap();
    fake.start_container(&new_id).await.unwrap();
    let observed = observe(&fake).await;

    // The ingress still forwards to the old one: the new one, never switched to, goes.
    let p = plan_routed(&[&changed], &observed, &to_old);
    let acme = p.tenant("acme").unwrap();
    let remove = acme.steps.iter().position(|s| matches!(s, Step::RemoveContainer { id, .. } if *id == new_id));
    let replace = acme.steps.iter().position(
        |s| matches!(s, Step::ReplaceContainer { old_id, old_name, .. } if *old_id == old.id && *old_name == aside_name(&old.name)),
    );
    assert!(remove.is_some() && replace.is_some() && remove < replace, "{:#?}", acme.steps);

    // It already forwards to the new one: the old one goes, the new one stays as it is.
    let new = observed.tenants[&t("acme")].containers.iter().find(|c| c.id == new_id).unwrap();
    let to_new = BTreeMap::from([(t("acme"), main_address(new, "tenantd_acme", 18789).unwrap())]);
    let p = plan_routed(&[&changed], &observed, &to_new);
    let acme = p.tenant("acme").unwrap();
    assert!(
        acme.steps.contains(&Step::RemoveContainer { id: old.id.clone(), name: aside_name(&old.name) }),
        "{:#?}",
        acme.steps
    );
    assert!(!acme.steps.iter().any(|s| matches!(s, Step::ReplaceContainer { .. })), "{:#?}", acme.steps);
}
