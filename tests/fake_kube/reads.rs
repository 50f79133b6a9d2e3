//! Read requests: get, and list with label/field selectors and `limit`/`continue` paging; the
//! metadata-only (`PartialObjectMetadata`) form of objects and lists.

use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult};
use super::resources::Resource;
use super::routes::Query;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{name_of, namespace_of};
use super::State;

/// The selectors of a list or watch request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    pub fn from_query(res: &Resource, query: &Query) -> ApiResult<Filter> {
        let labels =
            LabelSelector::parse(query.get("labelSelector").unwrap_or_default()).map_err(ApiError::bad_request)?;
        let fields =
            FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), res).map_err(ApiError::bad_request)?;
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

pub(crate) fn get(state: &State, res: &'static Resource, namespace: &str, name: &str) -> ApiResult<Value> {
    state.store.get(res, namespace, name).cloned().ok_or_else(|| ApiError::not_found(res, name))
}

/// A list response (`{kind}List`), items without apiVersion/kind, sorted by namespace then name.
pub(crate) fn list(state: &State, res: &'static Resource, namespace: Option<&str>, query: &Query) -> ApiResult<Value> {
    let filter = Filter::from_query(res, query)?;
    let limit = match query.get("limit") {
        None | Some("") => None,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit: {text:?}"))),
        },
    };
    // The continue token is the `namespace/name` of the last item returned.
    let after = match query.get("continue").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => {
            let (ns, name) = token.split_once('/').ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
            Some((ns.to_string(), name.to_string()))
        }
    };
    let mut items: Vec<Value> = state
        .store
        .list(res, namespace)
        .filter(|o| after.as_ref().is_none_or(|a| (namespace_of(o), name_of(o)) > *a))
        .filter(|o| filter.matches(o))
        .cloned()
        .collect();
    let mut metadata = json!({"resourceVersion": state.store.rv().to_string()});
    if let Some(limit) = limit.filter(|l| items.len() > *l) {
        let remaining = items.len() - limit;
        items.truncate(limit);
        let last = items.last().map(|o| format!("{}/{}", namespace_of(o), name_of(o))).unwrap_or_default();
        metadata["continue"] = json!(last);
        metadata["remainingItemCount"] = json!(remaining);
    }
    for item in &mut items {
        if let Some(map) = item.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
    }
    Ok(json!({"apiVersion": res.api_version(), "kind": res.list_kind(), "metadata": metadata, "items": items}))
}

/// The `PartialObjectMetadata` form of an object, or the `PartialObjectMetadataList` form of a
/// list, as served to clients asking for `application/json;as=PartialObjectMetadata…`.
pub(crate) fn metadata_only(v: &Value) -> Value {
    let partial =
        |o: &Value| json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]});
    match v.get("items").and_then(Value::as_array) {
        Some(items) => json!({
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadataList",
            "metadata": v["metadata"],
            "items": items.iter().map(partial).collect::<Vec<_>>(),
        }),
        None => partial(v),
    }
}
