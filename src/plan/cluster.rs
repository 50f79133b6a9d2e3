//! The plan of a tenant on a cluster: its objects as rendered against the objects observed. An
//! object that is missing, changed in the spec, or changed behind tenantd's back gets one
//! server-side apply; an object of the tenant that the spec no longer has is deleted, except
//! the namespace and the volume claims, which hold the tenant's data.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::compare::{differences, project};
use super::model::*;
use crate::render::kubernetes::{cluster_strategy, DesiredObject, ObjectKind, FILES_HASH};
use crate::render::DesiredTenant;
use crate::runtime::{ObservedObject, ObservedTenant, ObservedWorld};

/// The plan for `d`, whose objects are `objects`, against what the cluster holds of it.
pub(super) fn plan_tenant(
    d: &Arc<DesiredTenant>,
    objects: &[DesiredObject],
    o: Option<&ObservedTenant>,
    world: &ObservedWorld,
) -> TenantPlan {
    let namespaces: BTreeSet<&str> =
        objects.iter().filter(|x| x.kind == ObjectKind::Namespace).map(|x| x.name.as_str()).collect();
    let foreign: Vec<_> = world.foreign.iter().filter(|f| namespaces.contains(f.name.as_str())).cloned().collect();
    if !foreign.is_empty() {
        return TenantPlan { blocked: Some(Blocked::Conflict { objects: foreign }), ..empty(d, ChangeKind::Blocked) };
    }
    let too_long = names_too_long(objects);
    if !too_long.is_empty() {
        return TenantPlan { blocked: Some(Blocked::Invalid { messages: too_long }), ..empty(d, ChangeKind::Blocked) };
    }
    let empty_tenant = ObservedTenant::empty(d.name.clone());
    let o = o.unwrap_or(&empty_tenant);
    let exists = o.objects.iter().any(|x| !x.kind.kept_on_delete());

    let mut plan = empty(d, ChangeKind::NoChange);
    let mut replace_fields = BTreeSet::new();
    let mut pod_replaced = false;
    // The runtime's Deployment gone from a tenant that exists: its pod is created anew.
    let mut deployment_recreated = false;
    for want in objects {
        let label = format!("{} {}", want.kind, want.name);
        let Some(have) = o.object(want.kind, &want.name) else {
            if exists {
                plan.reasons.push(format!("{label} is missing: create"));
            }
            if want.kind == ObjectKind::Deployment {
                plan.diffs.push(object_diff(want, None));
                deployment_recreated = exists;
            }
            plan.steps.push(apply_step(want));
            continue;
        };
        let changed = differences(&comparable(want), &have.live);
        let spec_changed = have.applied_hash.as_deref() != Some(want.hash.as_str());
        let values_changed = want.kind == ObjectKind::Secret && !have.values_intact;
        if !spec_changed && changed.is_empty() && !values_changed {
            continue;
        }
        let why = match (spec_changed, changed.is_empty()) {
            (true, true) => format!("{label}: its manifest changed (fields tenantd no longer sets go)"),
            (true, false) => format!("{label}: {} changed in the spec", changed.join(", ")),
            (false, false) => format!("{label}: {} changed outside tenantd (drift): set back", changed.join(", ")),
            (false, true) => String::new(),
        };
        if !why.is_empty() {
            plan.reasons.push(why);
        }
        if values_changed {
            plan.reasons.push(format!("{label}: (sensitive values changed outside tenantd): set back"));
        }
        if want.kind == ObjectKind::Deployment {
            let fields = pod_fields(&changed);
            pod_replaced |= !fields.is_empty() && has_pod(o);
            replace_fields.extend(fields);
        }
        if want.kind != ObjectKind::Secret {
            plan.diffs.push(object_diff(want, Some(have)));
        }
        plan.steps.push(apply_step(want));
    }
    let wanted: BTreeSet<(ObjectKind, &str)> = objects.iter().map(|x| (x.kind, x.name.as_str())).collect();
    let mut extra: Vec<&ObservedObject> =
        o.objects.iter().filter(|x| !wanted.contains(&(x.kind, x.name.as_str()))).collect();
    extra.sort_by(|a, b| b.kind.cmp(&a.kind).then_with(|| a.name.cmp(&b.name)));
    for x in extra {
        if x.kind.kept_on_delete() {
            plan.reasons.push(format!("{} {} is no longer used: kept (it holds data)", x.kind, x.name));
        } else {
            plan.reasons.push(format!("{} {} is not in the spec: delete", x.kind, x.name));
            plan.steps.push(Step::DeleteObject { kind: x.kind, name: x.name.clone(), uid: x.uid.clone() });
        }
    }
    plan.change = if plan.steps.is_empty() {
        ChangeKind::NoChange
    } else if !exists || deployment_recreated {
        ChangeKind::Create
    } else if pod_replaced {
        ChangeKind::Replace
    } else {
        ChangeKind::UpdateInPlace
    };
    if plan.change == ChangeKind::Replace {
        let (strategy, why) = cluster_strategy(d);
        plan.reasons.push(format!("the cluster replaces the runtime's pod, {}: {why}", strategy.words()));
        plan.strategy = Some(strategy);
        plan.replace_fields = replace_fields.into_iter().collect();
    }
    plan
}

/// Names a cluster would refuse: the namespace (`<instance>-<tenant>`) and the pod's volume
/// names (`vol-<volume>`) are DNS labels of at most 63 characters, which a long tenant or
/// volume name can overrun on a cluster though not on Docker.
fn names_too_long(objects: &[DesiredObject]) -> Vec<String> {
    const MAX: usize = 63;
    let mut out = Vec::new();
    for o in objects {
        if o.kind == ObjectKind::Namespace && o.name.len() > MAX {
            out.push(format!(
                "on a cluster the tenant's namespace {} (<instance>-<tenant>) is longer than {MAX} characters: \
                 shorten the tenant name by {}",
                o.name,
                o.name.len() - MAX
            ));
        }
        if o.kind == ObjectKind::Deployment {
            let volumes = o.manifest["spec"]["template"]["spec"]["volumes"].as_array().into_iter().flatten();
            for name in volumes.filter_map(|v| v["name"].as_str()).filter(|n| n.len() > MAX) {
                out.push(format!(
                    "on a cluster the volume {name} is a pod volume name longer than {MAX} characters: shorten \
                     the volume's name by {}",
                    name.len() - MAX
                ));
            }
        }
    }
    out
}

/// What of a manifest can be compared with the live object: a Secret's `stringData` is
/// write-only (the API server turns it into `data`, which is compared by its hash instead).
fn comparable(want: &DesiredObject) -> std::borrow::Cow<'_, serde_json::Value> {
    match (&want.kind, &want.manifest) {
        (ObjectKind::Secret, serde_json::Value::Object(map)) => {
            let mut map = map.clone();
            map.remove("stringData");
            std::borrow::Cow::Owned(serde_json::Value::Object(map))
        }
        _ => std::borrow::Cow::Borrowed(&want.manifest),
    }
}

/// The plan for a tenant without a spec: every object goes but the namespace and the claims.
pub(super) fn plan_delete(o: &ObservedTenant) -> TenantPlan {
    let mut going: Vec<&ObservedObject> = o.objects.iter().filter(|x| !x.kind.kept_on_delete()).collect();
    going.sort_by(|a, b| b.kind.cmp(&a.kind).then_with(|| a.name.cmp(&b.name)));
    let steps: Vec<Step> =
        going.iter().map(|x| Step::DeleteObject { kind: x.kind, name: x.name.clone(), uid: x.uid.clone() }).collect();
    let kept: Vec<String> =
        o.objects.iter().filter(|x| x.kind.kept_on_delete()).map(|x| format!("{} {}", x.kind, x.name)).collect();
    let mut reasons = vec!["no spec file names this tenant".to_string()];
    if !kept.is_empty() {
        reasons.push(format!("kept (they hold data): {}", kept.join(", ")));
    }
    let change = if steps.is_empty() { ChangeKind::NoChange } else { ChangeKind::Delete };
    TenantPlan { reasons, steps, ..TenantPlan::stepless(&o.name, change, None) }
}

fn empty(d: &Arc<DesiredTenant>, change: ChangeKind) -> TenantPlan {
    TenantPlan { desired: Some(Arc::clone(d)), ..TenantPlan::stepless(&d.name, change, None) }
}

fn apply_step(want: &DesiredObject) -> Step {
    Step::ApplyObject { kind: want.kind, name: want.name.clone(), object: Box::new(want.clone()) }
}

/// Whether a pod of the tenant's runtime runs (or tries to) now.
fn has_pod(o: &ObservedTenant) -> bool {
    !o.containers.is_empty()
}

/// The spec fields behind the changed paths of a Deployment that change its pod template (and
/// so replace the pod), by the names the plan uses on every runtime.
fn pod_fields(paths: &[String]) -> BTreeSet<String> {
    paths
        .iter()
        .filter_map(|p| p.strip_prefix("spec.template."))
        .map(|p| {
            if p.contains(FILES_HASH) {
                return "runtimeFiles".to_string();
            }
            let field = p
                .strip_prefix("spec.containers[")
                .and_then(|rest| rest.split_once("].").map(|(_, field)| field))
                .map(|f| f.split(['.', '[']).next().unwrap_or(f));
            match field {
                Some("image" | "imagePullPolicy") => "image".into(),
                Some("env") => "env".into(),
                Some("args") => "args".into(),
                Some("resources") => "resources".into(),
                Some("securityContext") => "user".into(),
                Some("ports") => "ports".into(),
                Some("volumeMounts") => "mounts".into(),
                Some("livenessProbe" | "readinessProbe") => "health".into(),
                Some(other) => other.to_string(),
                None if p.starts_with("spec.containers") => "containers".into(),
                None if p.starts_with("spec.volumes") => "mounts".into(),
                None => p.split(['.', '[']).next_back().unwrap_or(p).trim_matches('"').to_string(),
            }
        })
        .collect()
}

/// The before/after of one object, cut down to what tenantd sets.
fn object_diff(want: &DesiredObject, have: Option<&ObservedObject>) -> ContainerDiff {
    let yaml = |v: &serde_json::Value| serde_yaml::to_string(v).unwrap_or_default();
    let (before, after) = match have {
        Some(h) => project(&want.manifest, &h.live),
        None => (serde_json::Value::Null, project(&want.manifest, &serde_json::Value::Null).1),
    };
    ContainerDiff {
        container: format!("{}/{}", want.kind, want.name),
        before: if have.is_some() { yaml(&before) } else { String::new() },
        after: yaml(&after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_template_paths_name_the_spec_fields() {
        let paths: Vec<String> = [
            "spec.template.spec.containers[runtime].env[LOG_LEVEL].value",
            "spec.template.spec.containers[cache].resources.limits.memory",
            "spec.template.metadata.annotations.\"io.tenantd.files-hash\"",
            "spec.template.spec.containers",
            "spec.replicas",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            pod_fields(&paths).into_iter().collect::<Vec<_>>(),
            ["containers", "env", "resources", "runtimeFiles"]
        );
    }
}
