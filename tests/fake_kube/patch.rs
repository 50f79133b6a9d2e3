//! JSON merge patch (RFC 7386) and strategic merge patch.
//!
//! The strategic merge patch is simplified: lists Kubernetes declares with a merge key are merged
//! element by element on that key (containers, initContainers, volumes, env, imagePullSecrets by
//! `name`; volumeMounts by `mountPath`; container ports by `containerPort`, Service ports by
//! `port`; ownerReferences by `uid`), `metadata.finalizers` is a set union, `$patch: delete` /
//! `$patch: replace` are honoured, `$setElementOrder`/`$retainKeys` directives are ignored, and
//! every other list is replaced, as in a JSON merge patch.

use serde_json::{Map, Value};

/// RFC 7386: maps merge recursively, `null` deletes, everything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made a map above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// A strategic merge patch (see the module documentation for what is supported).
pub(crate) fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        replacement.remove("$patch");
        *target = Value::Object(replacement);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made a map above");
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (target.get_mut(field), value.as_array()) {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() || value.get("$patch").and_then(Value::as_str) == Some("delete") {
            target.remove(key);
            continue;
        }
        let merge_key = match value {
            Value::Array(items) => merge_key(key, target, items),
            _ => None,
        };
        match (merge_key, value) {
            (Some(MergeKey::Field(field)), Value::Array(items)) => {
                let current = target.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
                merge_list(current, items, field);
            }
            (Some(MergeKey::Set), Value::Array(items)) => {
                let current = target.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = current {
                    for item in items {
                        if !list.contains(item) {
                            list.push(item.clone());
                        }
                    }
                }
            }
            _ => strategic_merge_patch(target.entry(key.clone()).or_insert(Value::Null), value),
        }
    }
}

enum MergeKey {
    /// Elements are maps identified by this field.
    Field(&'static str),
    /// A list of scalars merged as a set.
    Set,
}

fn merge_key(field: &str, parent: &Map<String, Value>, items: &[Value]) -> Option<MergeKey> {
    let key = match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "env" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "ownerReferences" => "uid",
        "finalizers" => return Some(MergeKey::Set),
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" if ["selector", "clusterIP", "type"].iter().any(|k| parent.contains_key(*k)) => "port",
        _ => return None,
    };
    Some(MergeKey::Field(key))
}

fn merge_list(current: &mut Value, patch: &[Value], key: &str) {
    if !current.is_array() {
        *current = Value::Array(Vec::new());
    }
    let list = current.as_array_mut().expect("made a list above");
    for item in patch {
        let id = item.get(key);
        let found = id.and_then(|id| list.iter().position(|existing| existing.get(key) == Some(id)));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (found, delete) {
            (Some(index), true) => {
                list.remove(index);
            }
            (None, true) => {}
            (Some(index), false) => strategic_merge_patch(&mut list[index], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge_patch(&mut fresh, item);
                list.push(fresh);
            }
        }
    }
}
