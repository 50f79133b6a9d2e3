//! Simulated controllers. These are simulations, not Kubernetes' controllers: they run
//! synchronously right after the write that triggers them (so a client's next read already sees
//! their effect), their writes bump resourceVersion and emit watch events but are not recorded as
//! client calls, and they cover only what the fake needs:
//!
//! - Deployment controller: Pods owned directly by the Deployment (no ReplicaSet objects), named
//!   `<deployment>-<template hash>-<5 chars>`; Pods of an older template are deleted before new
//!   ones are created (Recreate semantics whatever the strategy); then the Deployment's status.
//!   Never reports `ProgressDeadlineExceeded`; pod status changes made by clients are not
//!   propagated to the Deployment.
//! - Scheduler + kubelet: with `Kubelet::Ready`, every Pod is bound to node `fake-node` and
//!   started with the status of `kubelet::pod_status`; with `Kubelet::Off` no Deployment Pods are
//!   created and Pods are left Pending.
//! - Namespace setup: a `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap in every namespace.
//! - PVC binder: claims with a storage class are bound at once to a volume `pvc-<uid>`.
//! - Garbage collection: deleting a Deployment deletes its Pods (or, with Orphan, un-owns them);
//!   deleting a namespace deletes its contents immediately (no Terminating phase).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::apply::{Operation, Writer};
use super::resources::{self, Resource, RESOURCES};
use super::store::{name_of, namespace_of};
use super::writes::{self, Change};
use super::{kubelet, Kubelet, PodOutcome, State};

const CONTROLLER: &str = "kube-controller-manager";
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using \
    internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed \
    across distributions of Kubernetes clusters.";
/// Upper bound on Pods per Deployment.
const MAX_PODS: i64 = 50;

/// Settings of the simulation.
#[derive(Debug, Clone)]
pub(crate) struct Sim {
    pub kubelet: Kubelet,
    pub outcomes: HashMap<String, PodOutcome>,
    pods_started: u32,
}

impl Default for Sim {
    fn default() -> Self {
        Sim { kubelet: Kubelet::Ready, outcomes: HashMap::new(), pods_started: 0 }
    }
}

fn served(plural: &str) -> &'static Resource {
    resources::by_plural(plural).expect("a served resource")
}

/// A write by a simulated component. Its inputs were validated already, so a failure is a bug
/// in the fake and is reported on stderr rather than to a client.
fn server_write(state: &mut State, plural: &str, old: Option<&Value>, new: Value, manager: &str, sub: Option<&str>) {
    let res = served(plural);
    let (now, api_version) = (super::now(), res.api_version());
    let writer =
        Writer { manager, operation: Operation::Update, subresource: sub, api_version: &api_version, now: &now };
    if let Err(e) = writes::update(state, &Change { res, writer, dry_run: false }, old, new) {
        eprintln!("fake_kube: simulated {manager} write to {plural} failed: {}", e.message);
    }
}

/// Runs the controllers interested in a stored write.
pub(crate) fn after_write(state: &mut State, res: &'static Resource, obj: &Value, subresource: Option<&str>) {
    match (res.plural, subresource) {
        ("deployments", None) => reconcile_deployment(state, &namespace_of(obj), &name_of(obj)),
        ("namespaces", None) => setup_namespace(state, &name_of(obj)),
        ("persistentvolumeclaims", None) => bind_claim(state, obj),
        ("pods", _) => run_pod(state, obj),
        _ => {}
    }
}

/// Runs before a client deletes `obj`: a namespace's contents go first.
pub(crate) fn before_delete(state: &mut State, res: &'static Resource, obj: &Value) {
    if res.plural != "namespaces" {
        return;
    }
    let namespace = name_of(obj);
    for r in RESOURCES.iter().filter(|r| r.namespaced) {
        let names: Vec<String> = state.store.list(r, Some(&namespace)).map(name_of).collect();
        for name in names {
            state.store.remove(r, &namespace, &name);
        }
    }
}

/// Runs after a client deleted `obj`: garbage collection and replacement of a Deployment's Pods.
pub(crate) fn after_delete(state: &mut State, res: &'static Resource, obj: &Value, orphan: bool) {
    let namespace = namespace_of(obj);
    match res.plural {
        "deployments" => {
            let uid = obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
            for pod in owned_pods(state, &namespace, &uid) {
                if orphan {
                    let mut free = pod.clone();
                    free["metadata"].as_object_mut().map(|m| m.remove("ownerReferences"));
                    server_write(state, "pods", Some(&pod), free, "kube-controller-manager", None);
                } else {
                    state.store.remove(served("pods"), &namespace, &name_of(&pod));
                }
            }
        }
        "pods" => {
            let owners =
                obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
            for owner in owners.iter().filter(|o| o["kind"] == "Deployment") {
                reconcile_deployment(state, &namespace, owner["name"].as_str().unwrap_or_default());
            }
        }
        _ => {}
    }
}

/// Re-runs every controller (after the kubelet mode changed).
pub(crate) fn resync(state: &mut State) {
    let deployments: Vec<Value> = state.store.list(served("deployments"), None).cloned().collect();
    for d in deployments {
        reconcile_deployment(state, &namespace_of(&d), &name_of(&d));
    }
    let pods: Vec<Value> = state.store.list(served("pods"), None).cloned().collect();
    for pod in pods {
        run_pod(state, &pod);
    }
}

fn owned_pods(state: &State, namespace: &str, uid: &Value) -> Vec<Value> {
    state
        .store
        .list(served("pods"), Some(namespace))
        .filter(|p| {
            let owners = p.pointer("/metadata/ownerReferences").and_then(Value::as_array);
            owners.is_some_and(|os| os.iter().any(|o| o["kind"] == "Deployment" && o.get("uid") == Some(uid)))
        })
        .cloned()
        .collect()
}

fn reconcile_deployment(state: &mut State, namespace: &str, name: &str) {
    let Some(dep) = state.store.get(served("deployments"), namespace, name).cloned() else { return };
    let uid = dep.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
    let replicas = dep.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).clamp(0, MAX_PODS);
    let template = dep.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
    let hash = template_hash(&template);
    let (current, outdated): (Vec<Value>, Vec<Value>) = owned_pods(state, namespace, &uid)
        .into_iter()
        .partition(|p| p["metadata"]["labels"]["pod-template-hash"] == hash);
    let surplus = current.iter().skip(usize::try_from(replicas).unwrap_or(0));
    for pod in outdated.iter().chain(surplus) {
        state.store.remove(served("pods"), namespace, &name_of(pod));
    }
    if state.sim.kubelet == Kubelet::Ready {
        for _ in i64::try_from(current.len()).unwrap_or(i64::MAX)..replicas {
            create_pod(state, &dep, &template, &hash);
        }
    }
    let pods = owned_pods(state, namespace, &uid);
    let status = deployment_status(&dep, &pods, &hash);
    let mut updated = dep.clone();
    updated["status"] = status;
    server_write(state, "deployments", Some(&dep), updated, CONTROLLER, Some("status"));
}

fn create_pod(state: &mut State, dep: &Value, template: &Value, hash: &str) {
    let name = name_of(dep);
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    labels["pod-template-hash"] = json!(hash);
    let suffix = state.store.random_suffix(5);
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{name}-{hash}-{suffix}"),
            "generateName": format!("{name}-{hash}-"),
            "namespace": namespace_of(dep),
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
                "uid": dep["metadata"]["uid"].clone(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    if let Some(annotations) = template.pointer("/metadata/annotations") {
        pod["metadata"]["annotations"] = annotations.clone();
    }
    server_write(state, "pods", None, pod, CONTROLLER, None);
}

/// The pod-template-hash label: FNV-1a (32-bit) of the template, spelled as upstream spells it.
fn template_hash(template: &Value) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let hash =
        canonical_json(template).bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// JSON with object keys sorted, so equal templates hash equally whatever their key order.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", json!(k), canonical_json(&map[*k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn pod_ready(pod: &Value) -> bool {
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    conditions.is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn deployment_status(dep: &Value, pods: &[Value], hash: &str) -> Value {
    let spec_replicas = dep.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let count = |f: &dyn Fn(&Value) -> bool| i64::try_from(pods.iter().filter(|p| f(p)).count()).unwrap_or(i64::MAX);
    let total = count(&|_| true);
    let updated = count(&|p| p["metadata"]["labels"]["pod-template-hash"] == hash);
    let ready = count(&pod_ready);
    let unavailable = (spec_replicas - ready).max(0);
    let minimum = spec_replicas - max_unavailable(dep, spec_replicas);
    let complete = updated == spec_replicas && ready == spec_replicas && total == spec_replicas;
    let replica_set = format!("{}-{hash}", name_of(dep));
    let old = dep.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let available = if ready >= minimum {
        ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.".to_string())
    } else {
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.".to_string())
    };
    let progressing = if complete {
        ("True", "NewReplicaSetAvailable", format!("ReplicaSet \"{replica_set}\" has successfully progressed."))
    } else {
        ("True", "ReplicaSetUpdated", format!("ReplicaSet \"{replica_set}\" is progressing."))
    };
    let mut status = json!({
        "observedGeneration": dep.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "conditions": [condition(&old, "Available", available), condition(&old, "Progressing", progressing)],
    });
    let counts =
        [("replicas", total), ("updatedReplicas", updated), ("readyReplicas", ready), ("availableReplicas", ready)];
    for (key, n) in counts.into_iter().chain([("unavailableReplicas", unavailable)]) {
        if n != 0 {
            status[key] = json!(n);
        }
    }
    status
}

/// A Deployment condition; its timestamps are kept while nothing about it changes.
fn condition(old: &[Value], kind: &str, (status, reason, message): (&str, &str, String)) -> Value {
    let previous = old.iter().find(|c| c["type"] == kind);
    let same = previous.is_some_and(|p| p["status"] == status && p["reason"] == reason && p["message"] == message);
    let now = super::now();
    let transition = match previous {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = if same { previous.map(|p| p["lastUpdateTime"].clone()).unwrap_or(json!(now)) } else { json!(now) };
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": update,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    })
}

/// `maxUnavailable` of a RollingUpdate strategy, scaled and rounded down; 0 for Recreate.
fn max_unavailable(dep: &Value, replicas: i64) -> i64 {
    if dep.pointer("/spec/strategy/type").and_then(Value::as_str) != Some("RollingUpdate") {
        return 0;
    }
    let value = dep.pointer("/spec/strategy/rollingUpdate/maxUnavailable");
    let scaled = match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => {
            s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()).map_or(0, |p| replicas * p / 100)
        }
        _ => 0,
    };
    scaled.clamp(0, replicas.max(0))
}

fn run_pod(state: &mut State, pod: &Value) {
    if state.sim.kubelet != Kubelet::Ready {
        return;
    }
    if pod.pointer("/spec/nodeName").is_none() {
        let mut bound = pod.clone();
        bound["spec"]["nodeName"] = json!("fake-node");
        server_write(state, "pods", Some(pod), bound, "kube-scheduler", Some("binding"));
        return;
    }
    if pod.pointer("/status/startTime").is_some() {
        return;
    }
    state.sim.pods_started += 1;
    let n = state.sim.pods_started;
    let ip = format!("10.244.{}.{}", (n / 250) % 256, n % 250 + 2);
    let mut started = pod.clone();
    started["status"] = kubelet::pod_status(pod, &state.sim.outcomes, &ip, &super::now());
    server_write(state, "pods", Some(pod), started, "kubelet", Some("status"));
}

fn setup_namespace(state: &mut State, namespace: &str) {
    if state.store.get(served("serviceaccounts"), namespace, "default").is_none() {
        let account = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
        });
        server_write(state, "serviceaccounts", None, account, CONTROLLER, None);
    }
    if state.store.get(served("configmaps"), namespace, "kube-root-ca.crt").is_none() {
        let ca = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "kube-root-ca.crt",
                "namespace": namespace,
                "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
            },
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nZmFrZS1rdWJlIHRlc3QgQ0E=\n-----END CERTIFICATE-----\n"},
        });
        server_write(state, "configmaps", None, ca, CONTROLLER, None);
    }
}

fn bind_claim(state: &mut State, claim: &Value) {
    if claim.pointer("/spec/storageClassName").and_then(Value::as_str).is_none_or(str::is_empty) {
        return;
    }
    if claim.pointer("/spec/volumeName").is_none() {
        let mut bound = claim.clone();
        bound["spec"]["volumeName"] = json!(format!("pvc-{}", claim["metadata"]["uid"].as_str().unwrap_or_default()));
        let annotations = super::defaults::map_at(&mut bound, &["metadata", "annotations"]);
        for (key, value) in [
            ("pv.kubernetes.io/bind-completed", "yes"),
            ("pv.kubernetes.io/bound-by-controller", "yes"),
            ("volume.beta.kubernetes.io/storage-provisioner", "fake.k8s.io/provisioner"),
            ("volume.kubernetes.io/storage-provisioner", "fake.k8s.io/provisioner"),
        ] {
            annotations.insert(key.into(), json!(value));
        }
        let finalizers = bound["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        if !finalizers.iter().any(|f| f == "kubernetes.io/pvc-protection") {
            let mut finalizers = finalizers;
            finalizers.push(json!("kubernetes.io/pvc-protection"));
            bound["metadata"]["finalizers"] = json!(finalizers);
        }
        server_write(state, "persistentvolumeclaims", Some(claim), bound, CONTROLLER, None);
        return;
    }
    if claim.pointer("/status/phase").and_then(Value::as_str) == Some("Bound") {
        return;
    }
    let mut bound = claim.clone();
    bound["status"] = json!({
        "phase": "Bound",
        "accessModes": claim.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!([])),
        "capacity": {"storage": claim.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("0"))},
    });
    server_write(state, "persistentvolumeclaims", Some(claim), bound, CONTROLLER, Some("status"));
}
