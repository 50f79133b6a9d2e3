//! Field paths into JSON objects: leaf enumeration, lookup, assignment, and removal with pruning.
//!
//! A leaf is a scalar, a list (lists are atomic here) or an empty map; maps are recursed into.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

pub(crate) type Path = Vec<String>;

/// The leaf paths of `v` (none for a non-map root).
pub(crate) fn leaves(v: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    if let Value::Object(map) = v {
        collect(map, &mut Vec::new(), &mut out);
    }
    out
}

fn collect(map: &Map<String, Value>, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    for (key, value) in map {
        prefix.push(key.clone());
        match value {
            Value::Object(child) if !child.is_empty() => collect(child, prefix, out),
            _ => {
                out.insert(prefix.clone());
            }
        }
        prefix.pop();
    }
}

pub(crate) fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.as_object()?.get(key))
}

/// Sets `path` to `value`, creating (or replacing non-map) parents as maps.
pub(crate) fn set(v: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = v;
    for key in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().expect("made a map above");
        cur = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut().expect("made a map above").insert(last.clone(), value);
}

/// Removes `path`; parents left empty by the removal are removed too (the root is kept).
pub(crate) fn remove(v: &mut Value, path: &[String]) {
    fn go(cur: &mut Value, path: &[String]) -> bool {
        let Some(map) = cur.as_object_mut() else { return false };
        match path {
            [] => false,
            [last] => map.remove(last).is_some(),
            [first, rest @ ..] => {
                let Some(child) = map.get_mut(first) else { return false };
                let removed = go(child, rest);
                if removed && child.as_object().is_some_and(Map::is_empty) {
                    map.remove(first);
                }
                removed
            }
        }
    }
    go(v, path);
}

/// `.spec.replicas`, as the API server prints field paths.
pub(crate) fn display(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// Paths nobody owns: identity and server-maintained metadata, and the type itself.
pub(crate) fn is_unowned(path: &[String]) -> bool {
    match path {
        [first] => first == "apiVersion" || first == "kind",
        [meta, field, ..] if meta == "metadata" => matches!(
            field.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "managedFields"
                | "creationTimestamp"
                | "generation"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "selfLink"
        ),
        _ => false,
    }
}

/// True when `prefix` is `path` or one of its ancestors.
pub(crate) fn is_prefix(prefix: &[String], path: &[String]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

/// Parses `"spec.replicas"` into a path (test and controller convenience).
pub(crate) fn parse(dotted: &str) -> Path {
    dotted.split('.').map(str::to_string).collect()
}
