//! Field ownership (`metadata.managedFields`) for updates, and server-side apply.
//!
//! Each manager (name + operation + subresource) owns a set of leaf paths (see `paths`). Lists
//! are atomic leaves: real Kubernetes merges associative lists (containers by name, ports by
//! port …) element by element and records `k:{…}` keys; here a list is owned, compared and
//! replaced as a whole. `fieldsV1` uses the nested `{"f:spec":{"f:replicas":{}}}` encoding; a
//! `"."` marker appears only where a path and some of its descendants are both owned.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::paths::{self, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: BTreeSet<Path>,
}

/// Who is writing: the entry this write is recorded under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writer<'a> {
    pub manager: &'a str,
    pub operation: Operation,
    pub subresource: Option<&'a str>,
    pub api_version: &'a str,
    pub now: &'a str,
}

impl Writer<'_> {
    fn owns(&self, e: &Entry) -> bool {
        e.manager == self.manager && e.operation == self.operation && e.subresource.as_deref() == self.subresource
    }

    /// The writer's entry, created empty when absent.
    fn entry<'e>(&self, entries: &'e mut Vec<Entry>) -> &'e mut Entry {
        let index = match entries.iter().position(|e| self.owns(e)) {
            Some(i) => i,
            None => {
                entries.push(Entry {
                    manager: self.manager.to_string(),
                    operation: self.operation,
                    api_version: self.api_version.to_string(),
                    time: self.now.to_string(),
                    subresource: self.subresource.map(str::to_string),
                    fields: BTreeSet::new(),
                });
                entries.len() - 1
            }
        };
        &mut entries[index]
    }
}

/// The entries recorded in `obj` (unparseable entries are ignored).
pub(crate) fn read(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|e| {
            let operation = match e.get("operation")?.as_str()? {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return None,
            };
            let mut fields = BTreeSet::new();
            decode(e.get("fieldsV1").unwrap_or(&Value::Null), &mut Vec::new(), &mut fields);
            Some(Entry {
                manager: e.get("manager").and_then(Value::as_str).unwrap_or_default().to_string(),
                operation,
                api_version: e.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string(),
                time: e.get("time").and_then(Value::as_str).unwrap_or_default().to_string(),
                subresource: e.get("subresource").and_then(Value::as_str).map(str::to_string),
                fields,
            })
        })
        .collect()
}

fn decode(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = v.as_object() else { return };
    for (key, child) in map {
        if key == "." {
            out.insert(prefix.clone());
        } else if let Some(field) = key.strip_prefix("f:") {
            prefix.push(field.to_string());
            if child.as_object().is_none_or(Map::is_empty) {
                out.insert(prefix.clone());
            } else {
                decode(child, prefix, out);
            }
            prefix.pop();
        }
    }
}

/// The nested encoding; an owned path that also has owned descendants is marked with `"."`.
fn encode(fields: &BTreeSet<Path>) -> Value {
    let encoded: Vec<Path> = fields.iter().map(|p| p.iter().map(|k| format!("f:{k}")).collect()).collect();
    let mut root = json!({});
    for path in &encoded {
        if paths::get(&root, path).is_none() {
            paths::set(&mut root, path, json!({}));
        }
    }
    for path in &encoded {
        let has_children = paths::get(&root, path).and_then(Value::as_object).is_some_and(|m| !m.is_empty());
        if has_children {
            let mut marker = path.clone();
            marker.push(".".to_string());
            paths::set(&mut root, &marker, json!({}));
        }
    }
    root
}

/// Stores `entries` as `metadata.managedFields` (removed when there are none).
pub(crate) fn write(obj: &mut Value, entries: &[Entry]) {
    let rendered: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": match e.operation { Operation::Apply => "Apply", Operation::Update => "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&e.fields),
            });
            if e.manager.is_empty() {
                v.as_object_mut().map(|m| m.remove("manager"));
            }
            if let Some(sub) = &e.subresource {
                v["subresource"] = json!(sub);
            }
            v
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if rendered.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(rendered));
        }
    }
}

/// Ownership after an update (create, replace, patch, controller write): every leaf whose value
/// the write changed becomes the writer's and is taken from other managers; removed leaves are
/// nobody's.
pub(crate) fn record_update(entries: &mut Vec<Entry>, writer: &Writer, old: &Value, new: &Value) {
    let changed: BTreeSet<Path> = paths::leaves(old)
        .union(&paths::leaves(new))
        .filter(|p| !paths::is_unowned(p) && paths::get(old, p) != paths::get(new, p))
        .cloned()
        .collect();
    for path in &changed {
        let present = paths::get(new, path).is_some();
        for e in entries.iter_mut().filter(|e| !present || !writer.owns(e)) {
            e.fields.remove(path);
        }
        if present {
            writer.entry(entries).fields.insert(path.clone());
        }
    }
}

/// The leaf paths an applied configuration sets (nulls are removals, not owned).
pub(crate) fn applied_fields(body: &Value) -> BTreeSet<Path> {
    paths::leaves(body)
        .into_iter()
        .filter(|p| !paths::is_unowned(p) && !paths::get(body, p).is_some_and(Value::is_null))
        .collect()
}

/// Server-side apply, step one: `live` with the fields the applier owned before but no longer
/// applies (and nobody else owns) removed, then `body` merged in (maps recursed, the rest replaced).
pub(crate) fn merge(live: &Value, entries: &[Entry], writer: &Writer, body: &Value) -> Value {
    let applied = applied_fields(body);
    let mut obj = live.clone();
    if let Some(mine) = entries.iter().find(|e| writer.owns(e)) {
        for path in mine.fields.difference(&applied) {
            let shared =
                entries.iter().filter(|e| !writer.owns(e)).any(|e| e.fields.iter().any(|q| paths::is_prefix(path, q)));
            if !shared {
                paths::remove(&mut obj, path);
            }
        }
    }
    merge_into(&mut obj, body);
    obj
}

fn merge_into(target: &mut Value, patch: &Value) {
    let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) else { return };
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(_) if target.get(key).is_some_and(Value::is_object) => {
                merge_into(target.get_mut(key).expect("checked above"), value);
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Server-side apply, step two, on the final object `new`: the applied leaves other managers own
/// whose value this apply changes, with the owning manager. Maps are containers, not values:
/// applying one (even `{}`) never conflicts.
pub(crate) fn conflicts(
    entries: &[Entry],
    writer: &Writer,
    body: &Value,
    live: &Value,
    new: &Value,
) -> Vec<(Path, String)> {
    let applied = applied_fields(body);
    let mut found = Vec::new();
    for e in entries.iter().filter(|e| !writer.owns(e)) {
        for path in applied.intersection(&e.fields) {
            let is_map = paths::get(body, path).is_some_and(Value::is_object);
            if !is_map && paths::get(live, path) != paths::get(new, path) {
                found.push((path.clone(), e.manager.clone()));
            }
        }
    }
    found
}

/// Server-side apply, step three: forced conflicts move to the applier (other fields stay
/// shared), whose set becomes exactly `applied`.
pub(crate) fn take_ownership(
    entries: &mut Vec<Entry>,
    writer: &Writer,
    applied: &BTreeSet<Path>,
    forced: &[(Path, String)],
) {
    for e in entries.iter_mut().filter(|e| !writer.owns(e)) {
        e.fields.retain(|p| !forced.iter().any(|(f, _)| f == p));
    }
    writer.entry(entries).fields = applied.clone();
}

/// Final bookkeeping: owned paths that no longer exist are dropped, empty entries removed, and
/// the writer's timestamp renewed when the object or its set changed.
pub(crate) fn finish(entries: &mut Vec<Entry>, before: &[Entry], writer: &Writer, new: &Value, object_changed: bool) {
    for e in entries.iter_mut() {
        e.fields.retain(|p| !paths::is_unowned(p) && paths::get(new, p).is_some());
    }
    entries.retain(|e| !e.fields.is_empty());
    if let Some(mine) = entries.iter_mut().find(|e| writer.owns(e)) {
        let unchanged = before.iter().any(|b| b == &*mine);
        if object_changed || !unchanged {
            mine.time = writer.now.to_string();
            mine.api_version = writer.api_version.to_string();
        }
    }
}
