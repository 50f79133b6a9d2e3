//! Delete requests: `DeleteOptions` (preconditions, propagation policy, dry run), cascading
//! through the simulated garbage collector, and the response shapes (object or `Status`).

use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult};
use super::mutations::Request;
use super::reads::Filter;
use super::resources::Resource;
use super::store::name_of;
use super::{controllers, State};

/// The parts of `DeleteOptions` the fake honours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Options {
    uid: Option<String>,
    resource_version: Option<String>,
    orphan: bool,
    dry_run: bool,
    grace_period: Option<i64>,
}

fn options(req: &Request) -> ApiResult<Options> {
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(req.body).map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let policy = text("/propagationPolicy").or_else(|| req.query.get("propagationPolicy").map(str::to_string));
    if let Some(p) = policy.as_deref().filter(|p| !matches!(*p, "Orphan" | "Background" | "Foreground")) {
        return Err(ApiError::bad_request(format!("propagationPolicy: Unsupported value: {p:?}")));
    }
    let dry_run_body = body.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(Options {
        uid: text("/preconditions/uid"),
        resource_version: text("/preconditions/resourceVersion"),
        orphan: policy.as_deref() == Some("Orphan") || body.get("orphanDependents") == Some(&json!(true)),
        dry_run: dry_run_body || req.query.get("dryRun") == Some("All"),
        grace_period: body.get("gracePeriodSeconds").and_then(Value::as_i64),
    })
}

fn check_preconditions(res: &Resource, obj: &Value, opts: &Options) -> ApiResult<()> {
    let name = name_of(obj);
    let actual = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(uid) = opts.uid.as_ref().filter(|u| **u != actual("/metadata/uid")) {
        let why =
            format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", actual("/metadata/uid"));
        return Err(ApiError::conflict(res, &name, &why));
    }
    if let Some(rv) = opts.resource_version.as_ref().filter(|rv| **rv != actual("/metadata/resourceVersion")) {
        let why = format!(
            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
            actual("/metadata/resourceVersion")
        );
        return Err(ApiError::conflict(res, &name, &why));
    }
    Ok(())
}

/// Deletes one object now (with its dependents); returns its last state.
fn remove(state: &mut State, res: &'static Resource, namespace: &str, obj: &Value, opts: &Options) -> Value {
    if opts.dry_run {
        return obj.clone();
    }
    controllers::before_delete(state, res, obj);
    let deleted = state.store.remove(res, namespace, &name_of(obj)).unwrap_or_else(|| obj.clone());
    controllers::after_delete(state, res, &deleted, opts.orphan);
    deleted
}

pub(crate) fn delete(state: &mut State, req: &Request, name: &str) -> ApiResult<(u16, Value)> {
    let res = req.res;
    let opts = options(req)?;
    let obj = state.store.get(res, req.namespace, name).cloned().ok_or_else(|| ApiError::not_found(res, name))?;
    check_preconditions(res, &obj, &opts)?;
    let mut deleted = remove(state, res, req.namespace, &obj, &opts);
    if !res.returns_deleted_object {
        let mut details = json!({"name": name, "kind": res.plural, "uid": obj["metadata"]["uid"].clone()});
        if !res.group.is_empty() {
            details["group"] = json!(res.group);
        }
        return Ok((
            200,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        ));
    }
    // What the real server answers before its (here instantaneous) graceful deletion completes.
    match res.plural {
        "namespaces" => {
            deleted["metadata"]["deletionTimestamp"] = json!(super::now());
            deleted["status"]["phase"] = json!("Terminating");
        }
        "pods" => {
            deleted["metadata"]["deletionTimestamp"] = json!(super::now());
            let grace = opts.grace_period.or_else(|| deleted.pointer("/spec/terminationGracePeriodSeconds")?.as_i64());
            deleted["metadata"]["deletionGracePeriodSeconds"] = json!(grace.unwrap_or(30));
        }
        _ => {}
    }
    Ok((200, deleted))
}

/// DELETE on a collection: every object matching the selectors; answers the list of them.
pub(crate) fn delete_collection(state: &mut State, req: &Request) -> ApiResult<(u16, Value)> {
    let res = req.res;
    let opts = options(req)?;
    let filter = Filter::from_query(res, req.query)?;
    let matching: Vec<Value> =
        state.store.list(res, Some(req.namespace)).filter(|o| filter.matches(o)).cloned().collect();
    let items: Vec<Value> = matching.iter().map(|obj| remove(state, res, req.namespace, obj, &opts)).collect();
    let rv = state.store.rv().to_string();
    Ok((
        200,
        json!({
            "apiVersion": res.api_version(),
            "kind": res.list_kind(),
            "metadata": {"resourceVersion": rv},
            "items": items,
        }),
    ))
}
