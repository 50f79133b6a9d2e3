//! Write requests: create (POST), replace (PUT), patch (merge, strategic, server-side apply) and
//! delete (one object or a collection): request checks, then the shared write pipeline.

use serde_json::{json, Value};

use super::apply::{Operation, Writer};
use super::errors::{ApiError, ApiResult};
use super::resources::Resource;
use super::routes::Query;
use super::writes::{self, Change};
use super::{patch, State};

/// A write request as the router hands it over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub res: &'static Resource,
    /// The namespace in the URL ("" for cluster-scoped resources).
    pub namespace: &'a str,
    pub query: &'a Query,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// `fieldManager`, else the User-Agent's product name, else "".
    pub manager: &'a str,
}

impl Request<'_> {
    fn media_type(&self) -> String {
        let ct = self.content_type.unwrap_or("application/json");
        ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
    }

    fn dry_run(&self) -> ApiResult<bool> {
        match self.query.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("dryRun: Unsupported value: {other:?}"))),
        }
    }

    fn change<'s>(&self, operation: Operation, api_version: &'s str, now: &'s str) -> ApiResult<Change<'s>>
    where
        Self: 's,
    {
        let writer = Writer { manager: self.manager, operation, subresource: None, api_version, now };
        Ok(Change { res: self.res, writer, dry_run: self.dry_run()? })
    }
}

fn parse_object(bytes: &[u8], yaml: bool) -> ApiResult<Value> {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) if yaml => serde_yaml::from_slice(bytes).map_err(|e| ApiError::bad_request(e.to_string()))?,
        Err(e) => return Err(ApiError::bad_request(format!("json: {e}"))),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    Ok(value)
}

/// The body of a POST or PUT, JSON or YAML.
fn parse_body(req: &Request) -> ApiResult<Value> {
    match req.media_type().as_str() {
        "application/json" => parse_object(req.body, false),
        "application/yaml" => parse_object(req.body, true),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// apiVersion/kind, when given (or when `required`), must be the resource's; name and namespace
/// must match the URL's. Fills in name and namespace.
fn check_identity(req: &Request, body: &mut Value, name: Option<&str>, required: bool) -> ApiResult<()> {
    let res = req.res;
    let api_version = body.get("apiVersion").and_then(Value::as_str).map(str::to_string);
    let kind = body.get("kind").and_then(Value::as_str).map(str::to_string);
    if required && (api_version.is_none() || kind.is_none()) {
        return Err(ApiError::bad_request("apiVersion and kind must be set"));
    }
    if let Some(v) = api_version.filter(|v| *v != res.api_version()) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            res.api_version()
        )));
    }
    if let Some(k) = kind.filter(|k| k != res.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            res.kind
        )));
    }
    if body.get("metadata").is_some_and(|m| !m.is_object() && !m.is_null()) {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled: metadata must be an object",
            res.kind, res.version
        )));
    }
    let meta = super::defaults::map_at(body, &["metadata"]);
    if let Some(name) = name {
        match meta.get("name").and_then(Value::as_str) {
            Some(given) if given != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({given}) does not match the name on the URL ({name})"
                )))
            }
            _ => {
                meta.insert("name".into(), json!(name));
            }
        }
    }
    if res.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(given) if !given.is_empty() && given != req.namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => {
                meta.insert("namespace".into(), json!(req.namespace));
            }
        }
    }
    Ok(())
}

fn resource_version(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|rv| !rv.is_empty())
}

pub(crate) fn create(state: &mut State, req: &Request) -> ApiResult<(u16, Value)> {
    let mut body = parse_body(req)?;
    check_identity(req, &mut body, None, false)?;
    if resource_version(&body).is_some() {
        return Err(ApiError::internal("resourceVersion should not be set on objects to be created"));
    }
    if body.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
        let prefix = body.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or_default().to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                req.res,
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
        body["metadata"]["name"] = json!(format!("{prefix}{}", state.store.random_suffix(5)));
    }
    let (api_version, now) = (req.res.api_version(), super::now());
    writes::update(state, &req.change(Operation::Update, &api_version, &now)?, None, body)
}

pub(crate) fn replace(state: &mut State, req: &Request, name: &str) -> ApiResult<(u16, Value)> {
    let mut body = parse_body(req)?;
    check_identity(req, &mut body, Some(name), false)?;
    let old =
        state.store.get(req.res, req.namespace, name).cloned().ok_or_else(|| ApiError::not_found(req.res, name))?;
    if resource_version(&body).is_some_and(|rv| Some(rv) != resource_version(&old)) {
        return Err(ApiError::modified(req.res, name));
    }
    let (api_version, now) = (req.res.api_version(), super::now());
    writes::update(state, &req.change(Operation::Update, &api_version, &now)?, Some(&old), body)
}

pub(crate) fn patch(state: &mut State, req: &Request, name: &str) -> ApiResult<(u16, Value)> {
    let media_type = req.media_type();
    if media_type == "application/apply-patch+yaml" {
        return apply(state, req, name);
    }
    if req.query.get("force").is_some() {
        return Err(ApiError::invalid_options(
            "PatchOptions",
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let strategic = match media_type.as_str() {
        "application/merge-patch+json" => false,
        "application/strategic-merge-patch+json" => true,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    let body = parse_object(req.body, false)?;
    let old =
        state.store.get(req.res, req.namespace, name).cloned().ok_or_else(|| ApiError::not_found(req.res, name))?;
    if resource_version(&body).is_some_and(|rv| Some(rv) != resource_version(&old)) {
        return Err(ApiError::modified(req.res, name));
    }
    let mut candidate = old.clone();
    if strategic {
        patch::strategic_merge_patch(&mut candidate, &body);
    } else {
        patch::merge_patch(&mut candidate, &body);
    }
    check_identity(req, &mut candidate, Some(name), false)?;
    let (api_version, now) = (req.res.api_version(), super::now());
    writes::update(state, &req.change(Operation::Update, &api_version, &now)?, Some(&old), candidate)
}

/// Server-side apply (`application/apply-patch+yaml`, JSON or YAML body).
fn apply(state: &mut State, req: &Request, name: &str) -> ApiResult<(u16, Value)> {
    if req.query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::invalid_options(
            "PatchOptions",
            "fieldManager: Required value: is required for apply patch",
        ));
    }
    let force = match req.query.get("force") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::bad_request(format!("force: invalid value {other:?}"))),
    };
    let mut body = parse_object(req.body, true)?;
    check_identity(req, &mut body, Some(name), true)?;
    if body.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    super::quantity::canonicalize_in(&mut body).map_err(ApiError::bad_request)?;
    let live = state.store.get(req.res, req.namespace, name).cloned();
    if let Some(rv) = resource_version(&body) {
        if live.as_ref().and_then(resource_version) != Some(rv) {
            return Err(ApiError::modified(req.res, name));
        }
    }
    let mut skeleton = json!({"apiVersion": req.res.api_version(), "kind": req.res.kind, "metadata": {"name": name}});
    if req.res.namespaced {
        skeleton["metadata"]["namespace"] = json!(req.namespace);
    }
    strip_unowned(req.res, &mut body);
    let (api_version, now) = (req.res.api_version(), super::now());
    let change = req.change(Operation::Apply, &api_version, &now)?;
    writes::apply(state, &change, live.as_ref(), skeleton, &body, force)
}

/// Removes what an applier cannot own: type, identity and server metadata, and `status` where it is a subresource.
fn strip_unowned(res: &Resource, body: &mut Value) {
    let Some(map) = body.as_object_mut() else { return };
    map.remove("apiVersion");
    map.remove("kind");
    if res.status_subresource {
        map.remove("status");
    }
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|key, _| !super::paths::is_unowned(&["metadata".to_string(), key.clone()]));
    }
    if map.get("metadata").and_then(Value::as_object).is_some_and(|m| m.is_empty()) {
        map.remove("metadata");
    }
}
