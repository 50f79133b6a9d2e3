//! Plan tests of what else tenantd finds on the engine: names held by objects of other owners,
//! and network attachments changed behind its back. Pure; observed state from the fake.

use super::tests::{apply, converged, edit, observe, plan_for, t, ACME};
use super::*;
use crate::runtime::fake::Call;
use crate::runtime::{ForeignObject, NetworkAttachment, ObservedWorld};

fn foreign(kind: &str, name: &str) -> ForeignObject {
    ForeignObject { kind: kind.into(), name: name.into() }
}

fn conflict_of(p: &Plan, tenant: &str) -> Option<Vec<ForeignObject>> {
    match &p.tenant(tenant)?.blocked {
        Some(Blocked::Conflict { objects }) => Some(objects.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn a_foreign_holder_of_the_aside_name_blocks_a_replacement_before_anything_stops() {
    let fake = converged(&[ACME]).await;
    let observed =
        ObservedWorld { foreign: vec![foreign("container", "tenantd_acme.previous")], ..observe(&fake).await };

    // Nothing needs the name while nothing changes.
    let same = plan_for(&[ACME], &observed);
    assert_eq!(same.tenant("acme").unwrap().change, ChangeKind::NoChange);

    let replaced = plan_for(&[&edit(ACME, "LOG_LEVEL: info", "LOG_LEVEL: debug")], &observed);
    let acme = replaced.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::Blocked);
    assert!(acme.steps.is_empty(), "{:?}", acme.steps);
    assert_eq!(conflict_of(&replaced, "acme").unwrap(), [foreign("container", "tenantd_acme.previous")]);
    assert!(render_human(&replaced).contains("container tenantd_acme.previous exists and is not this instance's"));

    // Applying it stops nothing.
    apply(&fake, &replaced).await;
    assert!(fake.calls().iter().all(|c| !c.is_mutation()), "{:?}", fake.calls());
}

#[test]
fn a_foreign_volume_with_a_tenants_volume_name_blocks_its_creation() {
    let observed =
        ObservedWorld { foreign: vec![foreign("volume", "tenantd_acme_vol-workspace")], ..Default::default() };
    let p = plan_for(&[ACME], &observed);
    assert_eq!(conflict_of(&p, "acme").unwrap(), [foreign("volume", "tenantd_acme_vol-workspace")]);
    assert!(p.has_blocked_tenants());
    let json: serde_json::Value = serde_json::from_str(&render_json(&p)).unwrap();
    assert_eq!(
        json["tenants"][0]["blocked"],
        serde_json::json!({"reason": "conflict", "objects": [{"kind": "volume", "name": "tenantd_acme_vol-workspace"}]})
    );
}

#[test]
fn a_name_held_by_an_object_of_another_kind_is_no_conflict() {
    // Containers, networks and volumes have a name space each.
    let observed = ObservedWorld {
        foreign: vec![foreign("network", "tenantd_acme_vol-workspace"), foreign("volume", "tenantd_acme")],
        ..Default::default()
    };
    let p = plan_for(&[ACME], &observed);
    assert_eq!(p.tenant("acme").unwrap().change, ChangeKind::Create, "{:?}", p.tenant("acme").unwrap().blocked);
}

#[tokio::test]
async fn a_container_detached_from_its_network_is_connected_again_in_place() {
    let fake = converged(&[ACME]).await;
    let before = observe(&fake).await.tenants[&t("acme")].containers[0].clone();
    let attached: Vec<_> = before.networks.iter().map(|n| (n.network.as_str(), n.aliases.clone())).collect();
    assert_eq!(attached, [("tenantd_acme", vec!["runtime".to_string()])]);
    fake.with_world(|w| w.tenants.get_mut(&t("acme")).unwrap().containers[0].networks.clear());

    let p = plan_for(&[ACME], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::UpdateInPlace);
    assert_eq!(
        acme.steps,
        [Step::ConnectNetwork {
            id: before.id.clone(),
            name: "tenantd_acme".into(),
            network: "tenantd_acme".into(),
            aliases: vec!["runtime".into()],
        }]
    );
    let text = render_human(&p);
    assert!(text.contains("container tenantd_acme is not attached to network tenantd_acme: connect"), "{text}");
    assert!(text.contains("connect container tenantd_acme to network tenantd_acme (alias runtime; no restart)"));

    apply(&fake, &p).await;
    let after = observe(&fake).await.tenants[&t("acme")].containers[0].clone();
    let attached_after: Vec<_> = after.networks.iter().map(|n| (n.network.as_str(), n.aliases.clone())).collect();
    assert_eq!((after.id, attached_after), (before.id.clone(), attached));
    assert!(!plan_for(&[ACME], &observe(&fake).await).has_changes());
}

#[tokio::test]
async fn a_missing_alias_and_an_extra_network_are_repaired_without_a_new_container() {
    let sidecar = format!("{ACME}  sidecars: [ {{ name: cache, image: redis:7 }} ]\n");
    let fake = converged(&[&sidecar]).await;
    let ids: Vec<String> = observe(&fake).await.tenants[&t("acme")].containers.iter().map(|c| c.id.clone()).collect();
    fake.with_world(|w| {
        let containers = &mut w.tenants.get_mut(&t("acme")).unwrap().containers;
        // The sidecar lost the name the runtime reaches it by; the runtime got onto the host's bridge.
        containers[1].networks = vec![NetworkAttachment::new("tenantd_acme", &["0123456789ab"])];
        containers[0].networks.insert(0, NetworkAttachment::new("bridge", &[]));
    });

    let p = plan_for(&[&sidecar], &observe(&fake).await);
    let acme = p.tenant("acme").unwrap();
    assert_eq!(acme.change, ChangeKind::UpdateInPlace);
    let actions: Vec<(String, &str)> = acme
        .steps
        .iter()
        .map(|s| match s {
            Step::DisconnectNetwork { name, network, .. } => (format!("disconnect {name}"), network.as_str()),
            Step::ConnectNetwork { name, network, .. } => (format!("connect {name}"), network.as_str()),
            other => (format!("{other:?}"), ""),
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("disconnect tenantd_acme".to_string(), "bridge"),
            ("disconnect tenantd_acme_cache".to_string(), "tenantd_acme"),
            ("connect tenantd_acme_cache".to_string(), "tenantd_acme"),
        ]
    );
    assert!(acme.reasons.iter().any(|r| r.contains("without its alias cache")), "{:?}", acme.reasons);

    fake.clear_calls();
    apply(&fake, &p).await;
    assert!(!fake.calls().iter().any(|c| matches!(c, Call::CreateContainer(_) | Call::StopContainer(_))));
    let after: Vec<String> = observe(&fake).await.tenants[&t("acme")].containers.iter().map(|c| c.id.clone()).collect();
    assert_eq!(after, ids);
    assert!(!plan_for(&[&sidecar], &observe(&fake).await).has_changes());
}
