//! Decoding as the API server does: quantities canonicalised, the object passed through its typed
//! k8s-openapi struct (unknown fields dropped, wrongly typed fields rejected), then Go's
//! `omitempty` applied: empty lists, empty Go maps and zero values of non-pointer scalars are
//! dropped (`env: []`, `readOnly: false`, `value: ""`), while empty structs (`emptyDir: {}`) and
//! pointer fields (`replicas: 0`, `privileged: false`) are kept. Without Go's type information the
//! fields are recognised by name: the lists below cover the served kinds.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::ByteString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::resources::Resource;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Malformed (wrong type, bad base64, bad quantity): 400.
    Malformed(String),
    /// A required field is missing: 422.
    Missing(String),
}

/// Fields that are Go maps: dropped when empty. Every other empty `{}` is a struct and is kept.
const MAP_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
    "capacity",
    "allocatedResources",
    "volumeAttributes",
];

/// Non-pointer bool fields with `omitempty`: `false` is dropped.
const OMIT_FALSE: &[&str] = &[
    "readOnly",
    "stdin",
    "stdinOnce",
    "tty",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "paused",
    "publishNotReadyAddresses",
];

/// Non-pointer integer fields with `omitempty`: `0` is dropped.
const OMIT_ZERO: &[&str] = &[
    "hostPort",
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "minReadySeconds",
    "nodePort",
    "healthCheckNodePort",
];

/// Non-pointer string fields with `omitempty` (and optional in k8s-openapi): `""` is dropped.
const OMIT_EMPTY_STRING: &[&str] = &[
    "image",
    "workingDir",
    "value",
    "medium",
    "subPath",
    "subPathExpr",
    "hostIP",
    "clusterIP",
    "externalName",
    "loadBalancerIP",
    "sessionAffinity",
    "externalTrafficPolicy",
    "host",
    "scheme",
    "nodeName",
    "serviceAccountName",
    "serviceAccount",
    "hostname",
    "subdomain",
    "schedulerName",
    "priorityClassName",
    "dnsPolicy",
    "restartPolicy",
    "secretName",
    "volumeName",
    "generateName",
    "effect",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
];

/// Normalises `obj` of resource `res` the way decoding and re-encoding on the server does.
pub(crate) fn normalize(res: &Resource, mut obj: Value) -> Result<Value, DecodeError> {
    super::quantity::canonicalize_in(&mut obj).map_err(DecodeError::Malformed)?;
    let mut obj = match res.plural {
        "namespaces" => typed::<Namespace>(obj, |_| {}),
        "serviceaccounts" => typed::<ServiceAccount>(obj, |_| {}),
        "configmaps" => typed::<ConfigMap>(obj, |_| {}),
        "secrets" => typed::<Secret>(obj, merge_string_data),
        "persistentvolumeclaims" => typed::<PersistentVolumeClaim>(obj, |_| {}),
        "services" => typed::<Service>(obj, |_| {}),
        "pods" => typed::<Pod>(obj, |_| {}),
        "deployments" => typed::<Deployment>(obj, |_| {}),
        "networkpolicies" => typed::<NetworkPolicy>(obj, |_| {}),
        other => return Err(DecodeError::Malformed(format!("no decoder for {other}"))),
    }?;
    omit_empty(&mut obj);
    if res.plural == "services" {
        // A Service's selector is a map too (unlike a Deployment's LabelSelector struct).
        if obj.pointer("/spec/selector").and_then(Value::as_object).is_some_and(|m| m.is_empty()) {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("selector");
            }
        }
    }
    Ok(obj)
}

/// Round-trips through `T` using the same serde_json entry points as the kube client.
fn typed<T: DeserializeOwned + Serialize>(obj: Value, adjust: impl FnOnce(&mut T)) -> Result<Value, DecodeError> {
    let text = serde_json::to_string(&obj).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let mut value: T = serde_json::from_str(&text).map_err(|e| {
        let message = e.to_string();
        if message.starts_with("missing field") {
            DecodeError::Missing(message)
        } else {
            DecodeError::Malformed(message)
        }
    })?;
    adjust(&mut value);
    let bytes = serde_json::to_vec(&value).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// `stringData` is write-only: merged into `data` (base64) and dropped, as the Secret strategy does.
fn merge_string_data(secret: &mut Secret) {
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (key, value) in string_data {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
}

/// Drops what Go's `omitempty` would not encode, bottom-up. List elements are never dropped.
fn omit_empty(v: &mut Value) {
    omit_empty_in(v, "");
}

/// `field` is the name of the field holding `v` (for list elements: the list's).
fn omit_empty_in(v: &mut Value, field: &str) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                omit_empty_in(child, key);
            }
            map.retain(|key, child| {
                let key = key.as_str();
                match child {
                    Value::Null => false,
                    Value::Array(items) => !items.is_empty(),
                    Value::Object(m) => !(m.is_empty() && MAP_FIELDS.contains(&key)),
                    Value::Bool(false) => !OMIT_FALSE.contains(&key),
                    Value::Number(n) => !(n.as_i64() == Some(0) && OMIT_ZERO.contains(&key)),
                    // An HTTP header's value is required, unlike an env var's.
                    Value::String(s) => !(s.is_empty() && OMIT_EMPTY_STRING.contains(&key) && field != "httpHeaders"),
                    _ => true,
                }
            });
        }
        Value::Array(items) => items.iter_mut().for_each(|item| omit_empty_in(item, field)),
        _ => {}
    }
}
