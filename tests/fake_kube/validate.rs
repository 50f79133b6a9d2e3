//! Validation (422 Invalid) clients meet on a real server: object names, label and annotation
//! syntax, a Deployment's selector, and fields that are immutable after creation.

use serde_json::Value;

use super::resources::Resource;

/// `Err(what)` when `new` (replacing `old`, if any) is invalid.
pub(crate) fn validate(res: &Resource, old: Option<&Value>, new: &Value) -> Result<(), String> {
    let name = super::store::name_of(new);
    let name_ok = match res.plural {
        "namespaces" => dns_label(&name),
        "services" => dns_label(&name) && name.starts_with(|c: char| c.is_ascii_lowercase()),
        _ => dns_subdomain(&name),
    };
    if !name_ok {
        return Err(format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 name must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ));
    }
    metadata(new)?;
    match res.plural {
        "pods" => pod_spec(new.get("spec"), "spec"),
        "deployments" => pod_spec(new.pointer("/spec/template/spec"), "spec.template.spec").and(deployment(old, new)),
        "services" => service(old, new),
        "persistentvolumeclaims" => claim(old, new),
        "configmaps" | "secrets" => immutable_data(res, old, new),
        _ => Ok(()),
    }
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// A label value, or the name part of a qualified key.
fn label_value(s: &str) -> bool {
    s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !s.starts_with(|c: char| !c.is_ascii_alphanumeric())
        && !s.ends_with(|c: char| !c.is_ascii_alphanumeric())
}

fn qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(dns_subdomain) && !name.is_empty() && label_value(name)
}

fn metadata(obj: &Value) -> Result<(), String> {
    for (part, check_values) in [("labels", true), ("annotations", false)] {
        let Some(map) = obj.pointer(&format!("/metadata/{part}")).and_then(Value::as_object) else { continue };
        for (key, value) in map {
            if !qualified_name(key) {
                return Err(format!(
                    "metadata.{part}: Invalid value: {key:?}: name part must consist of alphanumeric characters, \
                     '-', '_' or '.', and must start and end with an alphanumeric character"
                ));
            }
            let value = value.as_str().unwrap_or_default();
            if check_values && !label_value(value) {
                return Err(format!(
                    "metadata.labels: Invalid value: {value:?}: a valid label must be an empty string or consist of \
                     alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character \
                     (at most 63 characters)"
                ));
            }
        }
    }
    Ok(())
}

/// Containers are required, each with a unique DNS-label name and an image.
fn pod_spec(spec: Option<&Value>, at: &str) -> Result<(), String> {
    let containers = spec.and_then(|s| s.get("containers")).and_then(Value::as_array).cloned().unwrap_or_default();
    if containers.is_empty() {
        return Err(format!("{at}.containers: Required value"));
    }
    let mut seen = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        if !dns_label(name) {
            return Err(format!(
                "{at}.containers[{i}].name: Invalid value: {name:?}: must be a lowercase RFC 1123 label"
            ));
        }
        if seen.contains(&name) {
            return Err(format!("{at}.containers[{i}].name: Duplicate value: {name:?}"));
        }
        seen.push(name);
        if c.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(format!("{at}.containers[{i}].image: Required value"));
        }
    }
    Ok(())
}

fn deployment(old: Option<&Value>, new: &Value) -> Result<(), String> {
    let selector = new.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let has_expressions = selector.get("matchExpressions").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
    if match_labels.is_none_or(|m| m.is_empty()) && !has_expressions {
        return Err("spec.selector: Invalid value: {}: empty selector is invalid for deployment".into());
    }
    let template_labels = new.pointer("/spec/template/metadata/labels");
    let matches = match_labels.into_iter().flatten().all(|(k, v)| template_labels.and_then(|l| l.get(k)) == Some(v));
    if !matches {
        return Err("spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`".into());
    }
    if new.pointer("/spec/replicas").and_then(Value::as_i64).is_some_and(|r| r < 0) {
        return Err("spec.replicas: Invalid value: must be greater than or equal to 0".into());
    }
    if let Some(old) = old {
        if old.pointer("/spec/selector") != Some(&selector) {
            return Err("spec.selector: Invalid value: field is immutable".into());
        }
    }
    Ok(())
}

fn service(old: Option<&Value>, new: &Value) -> Result<(), String> {
    let spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    let external = spec.get("type").and_then(Value::as_str) == Some("ExternalName");
    if !headless && !external && spec.get("ports").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        return Err("spec.ports: Required value".into());
    }
    if let Some(old) = old {
        let (before, after) = (old.pointer("/spec/clusterIP"), spec.get("clusterIP"));
        if before.is_some() && before != after {
            return Err(format!(
                "spec.clusterIPs[0]: Invalid value: {}: may not change once set",
                after.cloned().unwrap_or(Value::Null)
            ));
        }
    }
    Ok(())
}

fn claim(old: Option<&Value>, new: &Value) -> Result<(), String> {
    if new.pointer("/spec/resources/requests/storage").is_none() {
        return Err("spec.resources[storage]: Required value".into());
    }
    let Some(old) = old else { return Ok(()) };
    // Binding may set the volume and class once; requests may change (expansion).
    let comparable = |obj: &Value| {
        let mut spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("volumeAttributesClassName");
            for key in ["volumeName", "storageClassName"] {
                if old.pointer(&format!("/spec/{key}")).is_none() {
                    spec.remove(key);
                }
            }
            if let Some(resources) = spec.get_mut("resources").and_then(Value::as_object_mut) {
                resources.remove("requests");
            }
        }
        spec
    };
    if comparable(old) != comparable(new) {
        return Err("spec: Forbidden: spec is immutable after creation except resources.requests and \
                    volumeAttributesClassName for bound claims"
            .into());
    }
    Ok(())
}

fn immutable_data(res: &Resource, old: Option<&Value>, new: &Value) -> Result<(), String> {
    let Some(old) = old else { return Ok(()) };
    if res.plural == "secrets" && old.get("type") != new.get("type") {
        return Err("type: Invalid value: field is immutable".into());
    }
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return Ok(());
    }
    for field in ["immutable", "data", "binaryData"] {
        if old.get(field) != new.get(field) {
            return Err(format!("{field}: Forbidden: field is immutable when `immutable` is set"));
        }
    }
    Ok(())
}
