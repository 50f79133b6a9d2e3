//! The table of resources the fake serves: plural, kind, group/version, scope, and per-resource API traits.

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Resource {
    /// URL plural, e.g. `deployments`.
    pub plural: &'static str,
    pub kind: &'static str,
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    /// Has a `status` subresource: `status` in writes to the main resource is ignored.
    pub status_subresource: bool,
    /// DELETE answers with the object itself rather than a `Status` (as these registries do upstream).
    pub returns_deleted_object: bool,
}

macro_rules! resource {
    ($plural:literal, $kind:literal, $group:literal, $ns:literal, $status:literal, $returns:literal) => {
        Resource {
            plural: $plural,
            kind: $kind,
            group: $group,
            version: "v1",
            namespaced: $ns,
            status_subresource: $status,
            returns_deleted_object: $returns,
        }
    };
}

pub(crate) static RESOURCES: &[Resource] = &[
    resource!("namespaces", "Namespace", "", false, true, true),
    resource!("serviceaccounts", "ServiceAccount", "", true, false, false),
    resource!("configmaps", "ConfigMap", "", true, false, false),
    resource!("secrets", "Secret", "", true, false, false),
    resource!("persistentvolumeclaims", "PersistentVolumeClaim", "", true, true, true),
    resource!("services", "Service", "", true, true, true),
    resource!("pods", "Pod", "", true, true, true),
    resource!("deployments", "Deployment", "apps", true, true, false),
    resource!("networkpolicies", "NetworkPolicy", "networking.k8s.io", true, false, false),
];

/// The API groups besides core, as `(group, version)`.
pub(crate) static GROUPS: &[(&str, &str)] = &[("apps", "v1"), ("networking.k8s.io", "v1")];

impl Resource {
    /// `v1` or `group/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// How the API server names the resource in messages: `deployments.apps`, `configmaps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// How validation messages name the kind: `Deployment.apps`, `ConfigMap`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// The resource served at `group`/`version` under `plural`.
pub(crate) fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource with this plural, in any group (plurals are unique among the served resources).
pub(crate) fn by_plural(plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.plural == plural)
}
