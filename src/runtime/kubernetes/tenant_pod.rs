//! The pod that speaks for a tenant now, found by the labels tenantd gives its pods.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::errors::{fail, within};
use super::KubernetesRuntime;
use crate::render::kubernetes::namespace_name;
use crate::render::labels;
use crate::runtime::RuntimeError;
use crate::spec::TenantName;

impl KubernetesRuntime {
    /// The Pod API of `tenant`'s namespace.
    pub(super) fn pods(&self, tenant: &TenantName) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &namespace_name(&self.instance, tenant))
    }

    /// The name of `tenant`'s current pod (the newest not being deleted, as `observe` reports
    /// it); an `Engine` error saying so when it has none.
    pub(super) async fn tenant_pod(&self, tenant: &TenantName) -> Result<String, RuntimeError> {
        let selector = format!("{}={},{}={tenant}", labels::INSTANCE, self.instance, labels::TENANT);
        let operation = format!("find the pod of tenant {tenant}");
        let list = within(self.pods(tenant).list(&ListParams::default().labels(&selector)))
            .await
            .map_err(|e| fail(&self.endpoint, operation.clone(), e, false))?;
        super::pods::current(&list.items)
            .and_then(|p| p.metadata.name.clone())
            .ok_or_else(|| RuntimeError::Engine { operation, message: "it has no pod now".into() })
    }
}
