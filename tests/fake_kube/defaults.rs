//! Server-side defaulting, as the API server's defaulters (and the admission plugins every cluster
//! runs: ServiceAccount, DefaultTolerationSeconds, Priority, DefaultStorageClass) fill in absent fields.

use serde_json::{json, Map, Value};

use super::resources::Resource;

/// Defaults `obj` (already decoded) of resource `res`. Idempotent: only absent fields are set.
pub(crate) fn apply(res: &Resource, obj: &mut Value) {
    let name = super::store::name_of(obj);
    match res.plural {
        "namespaces" => {
            let labels = map_at(obj, &["metadata", "labels"]);
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
            set_default(map_at(obj, &["spec"]), "finalizers", json!(["kubernetes"]));
            set_default(map_at(obj, &["status"]), "phase", json!("Active"));
        }
        "secrets" => set_default(root(obj), "type", json!("Opaque")),
        "persistentvolumeclaims" => {
            let spec = map_at(obj, &["spec"]);
            set_default(spec, "volumeMode", json!("Filesystem"));
            set_default(spec, "storageClassName", json!("standard"));
        }
        "services" => service(obj),
        "pods" => {
            pod_spec(map_at(obj, &["spec"]));
            pod_only(map_at(obj, &["spec"]));
            set_default(map_at(obj, &["status"]), "phase", json!("Pending"));
        }
        "deployments" => deployment(obj),
        "networkpolicies" => network_policy(map_at(obj, &["spec"])),
        _ => {}
    }
}

fn root(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    obj.as_object_mut().expect("made a map above")
}

/// The map at `path`, created (as an empty map) where absent or not a map.
pub(crate) fn map_at<'a>(obj: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = root(obj);
    for key in path {
        let child = cur.entry(key.to_string()).or_insert_with(|| json!({}));
        if !child.is_object() {
            *child = json!({});
        }
        cur = child.as_object_mut().expect("made a map above");
    }
    cur
}

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_string()).or_insert(value);
}

/// The maps in the list at `key` (elements that are not maps are skipped).
fn each<'a>(map: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

fn deployment(obj: &mut Value) {
    let spec = map_at(obj, &["spec"]);
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(strategy) = strategy.as_object_mut() {
        set_default(strategy, "type", json!("RollingUpdate"));
        if strategy["type"] == "RollingUpdate" {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(rolling) = rolling.as_object_mut() {
                set_default(rolling, "maxUnavailable", json!("25%"));
                set_default(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    if let Some(template) = spec.get_mut("template") {
        pod_spec(map_at(template, &["spec"]));
    }
}

/// Defaults of a PodSpec, in pods and in pod templates alike.
pub(crate) fn pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    for list in ["initContainers", "containers"] {
        each(spec, list).for_each(container);
    }
    for volume in each(spec, "volumes") {
        for source in ["configMap", "secret", "projected", "downwardAPI"] {
            if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
                set_default(source, "defaultMode", json!(420));
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    set_default(c, "imagePullPolicy", json!(pull_policy(image)));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    for port in each(c, "ports") {
        set_default(port, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(probe, "timeoutSeconds", json!(1));
            set_default(probe, "periodSeconds", json!(10));
            set_default(probe, "successThreshold", json!(1));
            set_default(probe, "failureThreshold", json!(3));
            http_get(probe);
        }
    }
    if let Some(lifecycle) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in lifecycle.values_mut().filter_map(Value::as_object_mut) {
            http_get(hook);
        }
    }
    for env in each(c, "env") {
        if let Some(field_ref) = env.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef")) {
            if let Some(field_ref) = field_ref.as_object_mut() {
                set_default(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
}

fn http_get(handler: &mut Map<String, Value>) {
    if let Some(get) = handler.get_mut("httpGet").and_then(Value::as_object_mut) {
        set_default(get, "path", json!("/"));
        set_default(get, "scheme", json!("HTTP"));
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent` (digests count as pinned).
pub(crate) fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

/// Defaults of Pods themselves (not templates): SetDefaults_Pod and the admission plugins.
fn pod_only(spec: &mut Map<String, Value>) {
    set_default(spec, "enableServiceLinks", json!(true));
    set_default(spec, "serviceAccountName", json!("default"));
    let account = spec["serviceAccountName"].clone();
    set_default(spec, "serviceAccount", account);
    set_default(spec, "priority", json!(0));
    set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    set_default(
        spec,
        "tolerations",
        json!([
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ]),
    );
    for list in ["initContainers", "containers"] {
        for c in each(spec, list) {
            // Requests default to limits where only limits are given.
            let limits = c.get("resources").and_then(|r| r.get("limits")).and_then(Value::as_object).cloned();
            let limits = limits.unwrap_or_default();
            if !limits.is_empty() {
                let requests = c
                    .entry("resources")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|r| r.entry("requests").or_insert_with(|| json!({})));
                if let Some(Value::Object(requests)) = requests {
                    for (k, v) in limits {
                        requests.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
}

fn service(obj: &mut Value) {
    let spec = map_at(obj, &["spec"]);
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    let kind = spec["type"].as_str().unwrap_or_default().to_string();
    if kind != "ExternalName" {
        set_default(spec, "ipFamilies", json!(["IPv4"]));
        set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    for port in each(spec, "ports") {
        set_default(port, "protocol", json!("TCP"));
        let number = port.get("port").cloned().unwrap_or(Value::Null);
        set_default(port, "targetPort", number);
    }
    set_default(map_at(obj, &["status"]), "loadBalancer", json!({}));
}

fn network_policy(spec: &mut Map<String, Value>) {
    if !spec.contains_key("policyTypes") {
        let mut types = vec![json!("Ingress")];
        if spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty()) {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
    for direction in ["ingress", "egress"] {
        for rule in each(spec, direction) {
            for port in each(rule, "ports") {
                set_default(port, "protocol", json!("TCP"));
            }
        }
    }
}
