//! The write pipeline every write goes through (client requests and simulated controllers alike):
//! status handling, carried-over and allocated fields, decoding, defaulting, validation,
//! server-set metadata, generation, field ownership, the no-op rule, and the commit.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::apply::{self, Entry, Writer};
use super::decode::{self, DecodeError};
use super::errors::{ApiError, ApiResult};
use super::resources::Resource;
use super::store::{name_of, namespace_of, Store};
use super::{controllers, defaults, paths, validate, State};

/// Server-set metadata fields, never taken from a client.
const SERVER_METADATA: &[&str] =
    &["uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"];

/// One write: what, by whom, and whether it is a dry run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    pub res: &'static Resource,
    pub writer: Writer<'a>,
    pub dry_run: bool,
}

/// A create (`old` = None) or update: ownership of the changed fields goes to the writer.
pub(crate) fn update(
    state: &mut State,
    change: &Change,
    old: Option<&Value>,
    candidate: Value,
) -> ApiResult<(u16, Value)> {
    let new = prepare(&mut state.store, change, old, candidate)?;
    if old.is_none() && state.store.get(change.res, &namespace_of(&new), &name_of(&new)).is_some() {
        return Err(ApiError::already_exists(change.res, &name_of(&new)));
    }
    let before = old.map(apply::read).unwrap_or_default();
    let mut entries = before.clone();
    let empty = json!({});
    let old_fields = ownable(change, old.unwrap_or(&empty));
    apply::record_update(&mut entries, &change.writer, &old_fields, &ownable(change, &new));
    Ok(commit(state, change, old, new, entries, &before))
}

/// A server-side apply of `body` (already stripped of unowned fields) onto `live` (None: create).
pub(crate) fn apply(
    state: &mut State,
    change: &Change,
    live: Option<&Value>,
    skeleton: Value,
    body: &Value,
    force: bool,
) -> ApiResult<(u16, Value)> {
    let before = live.map(apply::read).unwrap_or_default();
    let base = live.cloned().unwrap_or(skeleton);
    let merged = apply::merge(&base, &before, &change.writer, body);
    let new = prepare(&mut state.store, change, live, merged)?;
    let conflicts = apply::conflicts(&before, &change.writer, body, &base, &new);
    if !conflicts.is_empty() && !force {
        let listed: Vec<(String, String)> = conflicts.iter().map(|(p, m)| (paths::display(p), m.clone())).collect();
        return Err(ApiError::apply_conflict(change.res, &name_of(&new), &listed));
    }
    let mut entries = before.clone();
    apply::take_ownership(&mut entries, &change.writer, &apply::applied_fields(body), &conflicts);
    Ok(commit(state, change, live, new, entries, &before))
}

/// What ownership is computed over: a main-resource write cannot own `status`.
fn ownable(change: &Change, obj: &Value) -> Value {
    let mut obj = obj.clone();
    if change.writer.subresource.is_none() && change.res.status_subresource {
        obj.as_object_mut().map(|m| m.remove("status"));
    }
    obj
}

/// What the server would store for `candidate` replacing `old`, ownership aside. Checks run in
/// the upstream order: decoding (400), the namespace of a new object (404), validation (422).
fn prepare(store: &mut Store, change: &Change, old: Option<&Value>, candidate: Value) -> ApiResult<Value> {
    let res = change.res;
    let name = name_of(&candidate);
    let mut obj = match (change.writer.subresource, old) {
        (Some("status"), Some(old)) => {
            let mut obj = old.clone();
            obj["status"] = candidate.get("status").cloned().unwrap_or(json!({}));
            obj
        }
        _ => candidate,
    };
    if change.writer.subresource.is_none() && res.status_subresource {
        match old.and_then(|o| o.get("status")) {
            Some(status) => obj["status"] = status.clone(),
            None => {
                obj.as_object_mut().map(|m| m.remove("status"));
            }
        }
    }
    carry_over(res, old, &mut obj);
    let mut obj = decode::normalize(res, obj).map_err(|e| match e {
        DecodeError::Malformed(why) => ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
            kind = res.kind,
            version = res.version
        )),
        DecodeError::Missing(why) => ApiError::invalid(res, &name, &why),
    })?;
    if old.is_none() && res.namespaced && !store.namespace_exists(&namespace_of(&obj)) {
        return Err(ApiError::namespace_not_found(&namespace_of(&obj)));
    }
    defaults::apply(res, &mut obj);
    allocate(store, res, &mut obj);
    validate::validate(res, old, &obj).map_err(|why| ApiError::invalid(res, &name, &why))?;
    let main = change.writer.subresource.is_none();
    server_metadata(store, res, old, &mut obj, change.writer.now, main);
    Ok(obj)
}

/// Values an update may omit and the server keeps: a Service's cluster IPs and node ports, a
/// claim's volume and storage class.
fn carry_over(res: &Resource, old: Option<&Value>, obj: &mut Value) {
    let Some(old_spec) = old.and_then(|o| o.get("spec")) else { return };
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let keep: &[&str] = match res.plural {
        "services" => &["clusterIP", "clusterIPs"],
        "persistentvolumeclaims" => &["volumeName", "storageClassName"],
        _ => return,
    };
    for key in keep {
        if let (false, Some(value)) = (spec.contains_key(*key), old_spec.get(*key)) {
            spec.insert(key.to_string(), value.clone());
        }
    }
    let old_ports = old_spec.get("ports").and_then(Value::as_array).cloned().unwrap_or_default();
    for port in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        let same = old_ports.iter().find(|p| p.get("port") == port.get("port") && p.get("nodePort").is_some());
        if let (Some(same), Some(port)) = (same, port.as_object_mut()) {
            port.entry("nodePort").or_insert_with(|| same["nodePort"].clone());
        }
    }
}

/// Allocates a Service's cluster IP (from 10.96.0.0/16) and node ports (from 30000).
fn allocate(store: &Store, res: &'static Resource, obj: &mut Value) {
    if res.plural != "services" || obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return;
    }
    let services: Vec<&Value> = store.list(res, None).collect();
    let spec = defaults::map_at(obj, &["spec"]);
    if !spec.contains_key("clusterIP") {
        let used: BTreeSet<&str> = services.iter().filter_map(|s| s.pointer("/spec/clusterIP")?.as_str()).collect();
        let free =
            (10u32..65_534).map(|i| format!("10.96.{}.{}", i / 256, i % 256)).find(|ip| !used.contains(ip.as_str()));
        spec.insert("clusterIP".into(), json!(free.unwrap_or_else(|| "10.96.255.254".into())));
    }
    if !spec.contains_key("clusterIPs") {
        let ip = spec["clusterIP"].clone();
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    if !matches!(spec.get("type").and_then(Value::as_str), Some("NodePort" | "LoadBalancer")) {
        return;
    }
    let mut used: BTreeSet<i64> = services
        .iter()
        .flat_map(|s| s.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|p| p.get("nodePort")?.as_i64())
        .collect();
    for port in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(port) = port.as_object_mut().filter(|p| !p.contains_key("nodePort")) {
            let free = (30_000..=32_767).find(|n| !used.contains(n)).unwrap_or(32_767);
            used.insert(free);
            port.insert("nodePort".into(), json!(free));
        }
    }
}

/// Identity and server metadata; `generation` counts spec changes through the main resource.
fn server_metadata(store: &mut Store, res: &Resource, old: Option<&Value>, obj: &mut Value, now: &str, main: bool) {
    obj["apiVersion"] = json!(res.api_version());
    obj["kind"] = json!(res.kind);
    let spec_changed = main && old.is_some_and(|old| without_meta(old) != without_meta(obj));
    let meta = defaults::map_at(obj, &["metadata"]);
    for key in SERVER_METADATA.iter().chain(&["selfLink", "managedFields"]) {
        meta.remove(*key);
    }
    if !res.namespaced {
        meta.remove("namespace");
    }
    match old.and_then(|o| o.get("metadata")) {
        Some(old_meta) => {
            for key in SERVER_METADATA {
                if let Some(value) = old_meta.get(*key) {
                    meta.insert(key.to_string(), value.clone());
                }
            }
            if spec_changed {
                let generation = old_meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
                meta.insert("generation".into(), json!(generation + 1));
            }
        }
        None => {
            meta.insert("uid".into(), json!(store.new_uid()));
            meta.insert("creationTimestamp".into(), json!(now));
            meta.insert("generation".into(), json!(1));
        }
    }
}

/// The object without metadata and status: what `generation` tracks.
fn without_meta(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        for key in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(key);
        }
    }
    obj
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    obj
}

/// Records ownership, then stores the object unless nothing changed (then the stored object is
/// returned as is: no new resourceVersion, no event). Controllers react to stored changes.
fn commit(
    state: &mut State,
    change: &Change,
    old: Option<&Value>,
    mut new: Value,
    mut entries: Vec<Entry>,
    before: &[Entry],
) -> (u16, Value) {
    let object_changed = old.is_none_or(|old| without_managed_fields(old) != without_managed_fields(&new));
    apply::finish(&mut entries, before, &change.writer, &new, object_changed);
    apply::write(&mut new, &entries);
    if let Some(old) = old {
        if *old == new {
            return (200, old.clone());
        }
    }
    let code = if old.is_some() { 200 } else { 201 };
    if change.dry_run {
        return (code, new);
    }
    let stored = state.store.put(change.res, new);
    controllers::after_write(state, change.res, &stored, change.writer.subresource);
    (code, stored)
}
