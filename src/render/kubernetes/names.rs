//! The names of a tenant's objects on a cluster: its namespace, the objects of its runtime, and
//! the field manager tenantd applies them as.

use crate::spec::TenantName;

/// The field manager of server-side apply, and the `app.kubernetes.io/managed-by` value.
pub const FIELD_MANAGER: &str = "tenantd";
/// The name of the Deployment, Service and ServiceAccount of a tenant's runtime, and of its
/// main container.
pub const RUNTIME: &str = "runtime";
/// The ConfigMap holding the generated `openclaw.json`.
pub const CONFIG_MAP: &str = "runtime-config";
/// The Secret holding the runtime's decrypted secrets.
pub const SECRET: &str = "runtime-secrets";

/// A tenant object's engine name (`<instance>_<tenant>_vol-data`) as a name within the tenant's
/// namespace (`vol-data`).
pub(super) fn kube_name(engine_name: &str, instance: &TenantName, tenant: &TenantName) -> String {
    engine_name.strip_prefix(&format!("{instance}_{tenant}_")).unwrap_or(engine_name).to_string()
}

/// `<instance>-<tenant>`: both are DNS labels, and the instance is at most 30 characters.
pub fn namespace_name(instance: &TenantName, tenant: &TenantName) -> String {
    format!("{instance}-{tenant}")
}
