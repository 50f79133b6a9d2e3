//! A tenant's Kubernetes objects as tenantd applies them: one JSON manifest per object, with
//! its kind, its name and a hash of what it says, in apply order.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::manifests::{manifests, KubeOptions};
use crate::render::{versioned_hash, DesiredTenant};
use crate::spec::TenantName;

/// The annotation holding the hash of the manifest tenantd last applied to an object.
pub const APPLIED_HASH: &str = "io.tenantd.applied-hash";

/// The kinds of object a tenant has on a cluster, in the order they are applied (deleted in
/// the reverse order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectKind {
    Namespace,
    ServiceAccount,
    NetworkPolicy,
    ConfigMap,
    Secret,
    PersistentVolumeClaim,
    Service,
    Deployment,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 8] = [
        ObjectKind::Namespace,
        ObjectKind::ServiceAccount,
        ObjectKind::NetworkPolicy,
        ObjectKind::ConfigMap,
        ObjectKind::Secret,
        ObjectKind::PersistentVolumeClaim,
        ObjectKind::Service,
        ObjectKind::Deployment,
    ];

    /// `group/version` (`v1` for the core group).
    pub fn api_version(self) -> &'static str {
        match self {
            ObjectKind::NetworkPolicy => "networking.k8s.io/v1",
            ObjectKind::Deployment => "apps/v1",
            _ => "v1",
        }
    }

    /// The resource's plural, as in its API path.
    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::Namespace => "namespaces",
            ObjectKind::ServiceAccount => "serviceaccounts",
            ObjectKind::NetworkPolicy => "networkpolicies",
            ObjectKind::ConfigMap => "configmaps",
            ObjectKind::Secret => "secrets",
            ObjectKind::PersistentVolumeClaim => "persistentvolumeclaims",
            ObjectKind::Service => "services",
            ObjectKind::Deployment => "deployments",
        }
    }

    pub fn namespaced(self) -> bool {
        self != ObjectKind::Namespace
    }

    /// Whether the object outlives its tenant: the claims hold the tenant's data, and the
    /// namespace holds the claims.
    pub fn kept_on_delete(self) -> bool {
        matches!(self, ObjectKind::Namespace | ObjectKind::PersistentVolumeClaim)
    }

    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.to_string() == kind)
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// One object as it should exist. Never holds a secret value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredObject {
    pub kind: ObjectKind,
    pub name: String,
    /// The manifest tenantd applies, with `apiVersion`, `kind` and the [`APPLIED_HASH`]
    /// annotation. A Secret names its keys in `stringData` with empty values: the values are
    /// decrypted and filled in only when it is applied.
    pub manifest: Value,
    /// The [`APPLIED_HASH`]: of the manifest and, for a Secret, of its encrypted values.
    pub hash: String,
}

impl DesiredObject {
    /// The namespace the object lives in (`None` for the namespace itself).
    pub fn namespace(&self) -> Option<&str> {
        self.manifest["metadata"]["namespace"].as_str()
    }
}

/// The objects of `d` for `instance`, in apply order.
pub fn desired_objects(d: &DesiredTenant, instance: &TenantName, opts: &KubeOptions) -> Vec<DesiredObject> {
    let m = manifests(d, instance, opts);
    let secret_hashes: BTreeMap<&str, &str> = d
        .files
        .iter()
        .flat_map(|f| f.hashes.iter())
        .filter(|(k, _)| k.starts_with("secret/"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = vec![
        object(ObjectKind::Namespace, &m.namespace, &()),
        object(ObjectKind::ServiceAccount, &m.service_account, &()),
        object(ObjectKind::NetworkPolicy, &m.network_policy, &()),
    ];
    out.extend(m.config_map.iter().map(|c| object(ObjectKind::ConfigMap, c, &())));
    out.extend(m.secret.iter().map(|s| object(ObjectKind::Secret, s, &secret_hashes)));
    out.extend(m.claims.iter().map(|c| object(ObjectKind::PersistentVolumeClaim, c, &())));
    out.push(object(ObjectKind::Service, &m.service, &()));
    out.push(object(ObjectKind::Deployment, &m.deployment, &()));
    out
}

/// The manifest of `typed` with `apiVersion` and `kind` first and its hash annotated; `extra`
/// is hashed with it.
fn object<T: Serialize, E: Serialize>(kind: ObjectKind, typed: &T, extra: &E) -> DesiredObject {
    let Value::Object(fields) = serde_json::to_value(typed).expect("manifests serialize") else {
        unreachable!("a Kubernetes object serializes to a JSON object")
    };
    let mut manifest = Map::new();
    manifest.insert("apiVersion".into(), kind.api_version().into());
    manifest.insert("kind".into(), kind.to_string().into());
    manifest.extend(fields);
    let mut manifest = Value::Object(manifest);
    let hash = versioned_hash(&(&manifest, extra));
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let metadata = manifest["metadata"].as_object_mut().expect("objects have metadata");
    let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    annotations.as_object_mut().expect("annotations are a map").insert(APPLIED_HASH.into(), hash.clone().into());
    DesiredObject { kind, name, manifest, hash }
}

/// The objects as one multi-document YAML stream, in apply order.
pub fn to_yaml(objects: &[DesiredObject]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&o.manifest).expect("manifests serialize to YAML"));
    }
    out
}
