//! API errors: a typed error for every failure the fake reports, rendered as a Kubernetes `Status`.

use serde_json::{json, Value};

use super::resources::Resource;

/// A failed request, answered with a `Status` body and `code` as the HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    fn with_details(mut self, res: &Resource, name: &str) -> Self {
        let mut details = json!({"name": name, "kind": res.plural});
        if !res.group.is_empty() {
            details["group"] = json!(res.group);
        }
        self.details = Some(details);
        self
    }

    /// A path the fake does not serve.
    pub fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub fn not_found(res: &Resource, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{name}\" not found", res.qualified())).with_details(res, name)
    }

    /// A namespaced object addressed in a namespace that does not exist.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(404, "NotFound", format!("namespaces \"{namespace}\" not found"))
            .with_details(super::resources::by_plural("namespaces").expect("namespaces are served"), namespace)
    }

    pub fn already_exists(res: &Resource, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", res.qualified()))
            .with_details(res, name)
    }

    /// `Operation cannot be fulfilled on …: <why>`.
    pub fn conflict(res: &Resource, name: &str, why: &str) -> Self {
        let message = format!("Operation cannot be fulfilled on {} \"{name}\": {why}", res.qualified());
        Self::new(409, "Conflict", message).with_details(res, name)
    }

    /// The optimistic-concurrency failure of a write carrying a stale resourceVersion.
    pub fn modified(res: &Resource, name: &str) -> Self {
        Self::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A server-side apply that would take fields owned by other managers.
    pub fn apply_conflict(res: &Resource, name: &str, conflicts: &[(String, String)]) -> Self {
        let mut message =
            format!("Apply failed with {} conflict{}:", conflicts.len(), if conflicts.len() == 1 { "" } else { "s" });
        for (field, manager) in conflicts {
            message.push_str(&format!(" conflict with \"{manager}\": {field};"));
        }
        message.pop();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(field, manager)| {
                let message = format!("conflict with \"{manager}\"");
                json!({"type": "FieldManagerConflict", "message": message, "field": field})
            })
            .collect();
        let mut err = Self::new(409, "Conflict", message).with_details(res, name);
        if let Some(details) = err.details.as_mut() {
            details["causes"] = Value::Array(causes);
        }
        err
    }

    /// 422: the object fails validation.
    pub fn invalid(res: &Resource, name: &str, what: &str) -> Self {
        Self::new(422, "Invalid", format!("{} \"{name}\" is invalid: {what}", res.qualified_kind()))
            .with_details(res, name)
    }

    /// 422 for invalid request options (e.g. a missing `fieldManager` on apply).
    pub fn invalid_options(kind: &str, what: &str) -> Self {
        Self::new(422, "Invalid", format!("{kind}.meta.k8s.io \"\" is invalid: {what}"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    /// The resourceVersion a watch starts from is older than the kept history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(413, "RequestEntityTooLarge", "the request body is too large")
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
