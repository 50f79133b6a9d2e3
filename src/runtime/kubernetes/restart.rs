//! Restarting a tenant's pod the way `kubectl rollout restart` does: the Deployment's pod
//! template gets the annotation `kubectl.kubernetes.io/restartedAt`, and the cluster replaces
//! the pod by the Deployment's own strategy.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::errors::{fail, within};
use super::KubernetesRuntime;
use crate::render::kubernetes::{namespace_name, RUNTIME};
use crate::runtime::RuntimeError;
use crate::spec::TenantName;

/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The field manager of a restart. Not tenantd's own (`tenantd`): a later apply by tenantd
/// does not set the annotation, and would remove a field of its own manager that it no longer
/// sets, replacing the pod once more.
pub const RESTART_MANAGER: &str = "tenantd-restart";

impl KubernetesRuntime {
    pub(super) async fn rollout_restart(&self, tenant: &TenantName, at: OffsetDateTime) -> Result<(), RuntimeError> {
        let namespace = namespace_name(&self.instance, tenant);
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &namespace);
        let params = PatchParams { field_manager: Some(RESTART_MANAGER.into()), ..Default::default() };
        let operation = format!("restart Deployment {RUNTIME} in namespace {namespace}");
        let patch =
            restart_patch(at).map_err(|message| RuntimeError::Engine { operation: operation.clone(), message })?;
        within(api.patch(RUNTIME, &params, &Patch::Strategic(patch)))
            .await
            .map(|_| ())
            .map_err(|e| fail(&self.endpoint, operation, e, false))
    }
}

/// The strategic merge patch that stamps the pod template with `at`, as kubectl writes it.
fn restart_patch(at: OffsetDateTime) -> Result<serde_json::Value, String> {
    let at = at.replace_nanosecond(0).map_err(|e| e.to_string())?.format(&Rfc3339).map_err(|e| e.to_string())?;
    Ok(json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_patch_stamps_only_the_pod_templates_annotation_in_seconds() {
        let patch = restart_patch(datetime!(2026-12-07 15:04:05.678 UTC)).unwrap();
        assert_eq!(
            patch,
            json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "2026-12-07T15:04:05Z"}}}}})
        );
    }
}
