//! Before/after text of a container's settings.

use serde_json::{json, Map, Value};

use super::model::ContainerDiff;
use crate::render::DesiredContainer;
use crate::runtime::ObservedContainer;

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
    obj.insert("limits".into(), oc.limits.to_json());
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
    obj.insert("limits".into(), c.limits.to_json());
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
