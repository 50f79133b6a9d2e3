//! Before/after text of a container's settings, and the wording of limit changes.

use serde_json::{json, Map, Value};

use super::model::ContainerDiff;
use crate::render::{DesiredContainer, Limits};
use crate::runtime::ObservedContainer;
use crate::spec::ByteSize;

/// Describes what differs between two limit sets (`memory 512Mi → 1Gi, cpus 0.5 → 1`), or
/// `None` when they are equal.
pub fn limits_change(from: &Limits, to: &Limits) -> Option<String> {
    let mut parts = Vec::new();
    if from.memory_bytes != to.memory_bytes {
        parts.push(format!("memory {} → {}", mem(from.memory_bytes), mem(to.memory_bytes)));
    }
    if from.nano_cpus != to.nano_cpus {
        parts.push(format!("cpus {} → {}", cpus(from.nano_cpus), cpus(to.nano_cpus)));
    }
    if from.pids != to.pids {
        parts.push(format!("pids {} → {}", from.pids, to.pids));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn mem(bytes: i64) -> String {
    if bytes <= 0 {
        "unlimited".into()
    } else {
        ByteSize::from_bytes(bytes as u64).to_string()
    }
}

fn cpus(nano: i64) -> String {
    if nano <= 0 {
        "unlimited".into()
    } else {
        format!("{}", nano as f64 / 1e9)
    }
}

fn limits_json(l: &Limits) -> Value {
    json!({ "memory": mem(l.memory_bytes), "cpus": l.nano_cpus as f64 / 1e9, "pids": l.pids })
}

/// The settings of an observed container as recorded when it was created, with its live limits
/// and host port (those can differ from the record).
fn observed_settings(oc: &ObservedContainer) -> Value {
    let mut obj = match oc.applied.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(m))) => m,
        _ => {
            let mut m = Map::new();
            m.insert("image".into(), Value::String(oc.image_ref.clone()));
            m.insert("note".into(), Value::String("settings were not recorded on this container".into()));
            m
        }
    };
    obj.insert("limits".into(), limits_json(&oc.limits));
    if let Some(p) = oc.host_port {
        obj.insert("hostPort".into(), json!(p));
    }
    Value::Object(obj)
}

fn desired_settings(c: &DesiredContainer, host_port: Option<u16>) -> Value {
    let mut obj = match serde_json::from_str::<Value>(&c.applied) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    obj.insert("limits".into(), limits_json(&c.limits));
    if let Some(p) = host_port.filter(|_| c.publish_port.is_some()) {
        obj.insert("hostPort".into(), json!(p));
    }
    Value::Object(obj)
}

fn to_yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

/// The before/after YAML of one container (either side may be absent).
pub fn container_diff(
    name: &str,
    before: Option<&ObservedContainer>,
    after: Option<&DesiredContainer>,
    host_port: Option<u16>,
) -> ContainerDiff {
    ContainerDiff {
        container: name.to_string(),
        before: before.map(|oc| to_yaml(&observed_settings(oc))).unwrap_or_default(),
        after: after.map(|c| to_yaml(&desired_settings(c, host_port))).unwrap_or_default(),
    }
}

/// A unified diff of one container's settings, for the human plan.
pub fn unified(diff: &ContainerDiff) -> String {
    similar::TextDiff::from_lines(&diff.before, &diff.after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{} (running)", diff.container), &format!("{} (desired)", diff.container))
        .to_string()
}
