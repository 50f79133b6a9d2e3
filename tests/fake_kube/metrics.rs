//! `metrics.k8s.io/v1beta1` PodMetrics, as metrics-server would serve them, when the fake is
//! told to (`FakeKube::serve_metrics`; off by default, as on a cluster without metrics-server,
//! where every path of the group is a 404). Simulated: nothing runs, so a container's usage is
//! what a test set (`FakeKube::set_usage`, per namespace and container name), else zero; every
//! started pod has metrics. Served: list (in a namespace or all) and get; no selectors, no
//! discovery document for the group.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult};
use super::resources;
use super::store::{name_of, namespace_of};
use super::State;

pub(crate) const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

/// What the simulated metrics-server reports.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub served: bool,
    /// (cpu, memory) quantities by (namespace, container).
    pub usage: BTreeMap<(String, String), (String, String)>,
}

/// `GET …/pods` (`name` None) or `GET …/pods/{name}` of the metrics group.
pub(crate) fn read(state: &State, namespace: Option<&str>, name: Option<&str>) -> ApiResult<(u16, Value)> {
    if !state.metrics.served {
        return Err(ApiError::no_route());
    }
    let pods = resources::by_plural("pods").expect("pods are served");
    let started = state.store.list(pods, namespace).filter(|p| p.pointer("/status/startTime").is_some());
    let mut items: Vec<Value> = started.map(|p| pod_metrics(state, p)).collect();
    match name {
        Some(name) => {
            let found = items.drain(..).find(|m| m["metadata"]["name"] == name);
            let mut found = found.ok_or_else(|| {
                let mut e = ApiError::no_route();
                e.message = format!("podmetrics.metrics.k8s.io \"{name}\" not found");
                e.details = Some(json!({"name": name, "group": "metrics.k8s.io", "kind": "pods"}));
                e
            })?;
            found["apiVersion"] = json!(GROUP_VERSION);
            found["kind"] = json!("PodMetrics");
            Ok((200, found))
        }
        None => {
            Ok((200, json!({"apiVersion": GROUP_VERSION, "kind": "PodMetricsList", "metadata": {}, "items": items})))
        }
    }
}

fn pod_metrics(state: &State, pod: &Value) -> Value {
    let namespace = namespace_of(pod);
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .map(|c| {
            let (cpu, memory) = state
                .metrics
                .usage
                .get(&(namespace.clone(), c.to_string()))
                .cloned()
                .unwrap_or_else(|| ("0".into(), "0".into()));
            json!({"name": c, "usage": {"cpu": cpu, "memory": memory}})
        })
        .collect();
    let now = super::now();
    json!({
        "metadata": {
            "name": name_of(pod),
            "namespace": namespace,
            "creationTimestamp": now,
            "labels": pod["metadata"]["labels"].clone(),
        },
        "timestamp": now,
        "window": "15s",
        "containers": containers,
    })
}
