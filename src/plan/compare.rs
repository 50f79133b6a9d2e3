//! Desired manifest against live object: where the cluster holds something other than what
//! tenantd applies. The live object may say more (server defaults, fields of other managers);
//! only what the manifest says is compared. Pure.

use serde_json::{Map, Value};

use crate::render::kubernetes::{Quantity, APPLIED_HASH};

/// The paths (`spec.template.spec.containers[runtime].env`) where `live` differs from
/// `desired`: a value that is not equal, or missing. Maps may hold more keys than desired;
/// lists must match element by element. An empty list or map in `desired` matches an absent
/// one (the API server drops them). Quantities compare by value (`"1"` equals `"1000m"`).
/// The applied-hash annotation is not compared.
pub fn differences(desired: &Value, live: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(desired, live, "", &mut out);
    out
}

fn walk(desired: &Value, live: &Value, path: &str, out: &mut Vec<String>) {
    match desired {
        Value::Null => {}
        Value::Object(d) if d.is_empty() && live_is_empty(live) => {}
        Value::Array(d) if d.is_empty() && live_is_empty(live) => {}
        Value::Object(d) => {
            let Value::Object(l) = live else { return out.push(display(path)) };
            for (key, dv) in d {
                if key == APPLIED_HASH && path.ends_with("metadata.annotations") {
                    continue;
                }
                walk(dv, l.get(key).unwrap_or(&Value::Null), &join(path, key), out);
            }
        }
        Value::Array(d) => match live {
            Value::Array(l) if l.len() == d.len() => {
                for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                    walk(dv, lv, &format!("{path}[{}]", element_name(dv).unwrap_or_else(|| i.to_string())), out);
                }
            }
            _ => out.push(display(path)),
        },
        scalar => {
            let equal = scalar == live || (is_quantity_path(path) && same_quantity(scalar, live));
            if !equal {
                out.push(display(path));
            }
        }
    }
}

fn live_is_empty(live: &Value) -> bool {
    match live {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Keys with dots or slashes (labels, annotations, file names) are quoted, so a path reads
/// unambiguously.
fn join(path: &str, key: &str) -> String {
    let key = if key.contains(['.', '/']) { format!("\"{key}\"") } else { key.to_string() };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

fn display(path: &str) -> String {
    if path.is_empty() {
        "(the whole object)".into()
    } else {
        path.to_string()
    }
}

/// List elements with a `name` (containers, volumes, env) are named by it.
fn element_name(v: &Value) -> Option<String> {
    v.get("name")?.as_str().map(str::to_string)
}

/// Where Kubernetes keeps quantities, which it canonicalizes (`1000m` comes back as `1`).
fn is_quantity_path(path: &str) -> bool {
    path.contains(".limits.") || path.contains(".requests.") || path.ends_with("sizeLimit")
}

fn same_quantity(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => match (Quantity::parse(a), Quantity::parse(b)) {
            (Some(a), Some(b)) => a.same_as(&b),
            _ => false,
        },
        _ => false,
    }
}

/// `live` cut down to what `desired` says, for a readable before/after: the keys of `desired`
/// only, list elements matched by position. The applied-hash annotation is left out of both.
pub fn project(desired: &Value, live: &Value) -> (Value, Value) {
    (cut(live, desired), cut(desired, desired))
}

fn cut(value: &Value, shape: &Value) -> Value {
    match (value, shape) {
        (Value::Object(v), Value::Object(s)) => {
            let mut out = Map::new();
            for (key, sv) in s {
                if key == APPLIED_HASH {
                    continue;
                }
                if let Some(vv) = v.get(key) {
                    out.insert(key.clone(), cut(vv, sv));
                }
            }
            Value::Object(out)
        }
        (Value::Array(v), Value::Array(s)) => {
            v.iter().enumerate().map(|(i, vv)| s.get(i).map_or_else(|| vv.clone(), |sv| cut(vv, sv))).collect()
        }
        (v, _) => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn live_may_say_more_but_not_otherwise() {
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "runtime", "image": "a:1", "env": [{"name": "X", "value": "1"}]}]}}}});
        let live = json!({"spec": {"replicas": 1, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
            {"name": "runtime", "image": "a:1", "imagePullPolicy": "IfNotPresent",
             "env": [{"name": "X", "value": "1"}]}]}}}});
        assert!(differences(&desired, &live).is_empty());

        let edited = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "runtime", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}}});
        assert_eq!(
            differences(&desired, &edited),
            ["spec.template.spec.containers[runtime].image", "spec.template.spec.containers[runtime].env"]
        );
        assert_eq!(differences(&desired, &json!({"spec": {}})), ["spec.replicas", "spec.template"]);
    }

    #[test]
    fn empty_lists_and_maps_match_absent_ones_and_the_hash_is_not_compared() {
        let desired = json!({"metadata": {"annotations": {APPLIED_HASH: "v1:new"}}, "env": [], "args": {}});
        assert!(differences(&desired, &json!({"metadata": {"annotations": {APPLIED_HASH: "v1:old"}}})).is_empty());
        assert_eq!(differences(&json!({"env": []}), &json!({"env": [{"name": "X"}]})), ["env"]);
    }

    #[test]
    fn quantities_compare_by_value_where_kubernetes_keeps_them() {
        let desired =
            json!({"resources": {"limits": {"cpu": "1000m", "memory": "67108864"}, "requests": {"cpu": "500m"}}});
        let live = json!({"resources": {"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "0.5"}}});
        assert!(differences(&desired, &live).is_empty());
        let bigger = json!({"resources": {"limits": {"cpu": "1", "memory": "65Mi"}, "requests": {"cpu": "0.5"}}});
        assert_eq!(differences(&desired, &bigger), ["resources.limits.memory"]);
        // Elsewhere a string is a string.
        assert_eq!(differences(&json!({"value": "1000m"}), &json!({"value": "1"})), ["value"]);
    }

    #[test]
    fn keys_with_dots_are_quoted_in_paths() {
        let d = json!({"metadata": {"labels": {"io.tenantd.tenant": "acme"}}});
        assert_eq!(differences(&d, &json!({"metadata": {"labels": {}}})), ["metadata.labels.\"io.tenantd.tenant\""]);
    }

    #[test]
    fn projection_keeps_only_what_the_manifest_says() {
        let desired =
            json!({"spec": {"replicas": 1, "x": [{"a": 1}]}, "metadata": {"annotations": {APPLIED_HASH: "h"}}});
        let live = json!({"spec": {"replicas": 2, "extra": true, "x": [{"a": 2, "b": 3}]}, "status": {}});
        let (before, after) = project(&desired, &live);
        assert_eq!(before, json!({"spec": {"replicas": 2, "x": [{"a": 2}]}}));
        assert_eq!(after, json!({"spec": {"replicas": 1, "x": [{"a": 1}]}, "metadata": {"annotations": {}}}));
    }
}
