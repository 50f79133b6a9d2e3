//! Tenant networks: one bridge per tenant, created and removed only when it is this instance's.

use bollard::models::{NetworkCreateRequest, NetworkInspect};
use bollard::query_parameters::InspectNetworkOptions;

use super::errors::{is_status, within};
use super::scope::{is_ours, object_labels};
use super::DockerRuntime;
use crate::render::DesiredNetwork;
use crate::runtime::error::RuntimeError;
use crate::runtime::model::labels;
use crate::spec::TenantName;

impl DockerRuntime {
    pub(super) async fn create_tenant_network(
        &self,
        tenant: &TenantName,
        network: &DesiredNetwork,
    ) -> Result<String, RuntimeError> {
        let operation = format!("create network {}", network.name);
        // Engines before API 1.44 accept a second network with the same name, so look first
        // instead of relying on a 409.
        if let Some(existing) = self.network_named(&network.name, &operation).await? {
            return self.adopt_existing(tenant, &network.name, existing);
        }
        let docker = self.client().await?;
        let request = NetworkCreateRequest {
            name: network.name.clone(),
            driver: Some("bridge".into()),
            internal: Some(network.internal),
            attachable: Some(false),
            labels: Some(object_labels(&self.instance, tenant)),
            ..Default::default()
        };
        match within(self.timeouts.call, docker.create_network(request)).await {
            Ok(created) => Ok(created.id),
            Err(e) if is_status(&e, 409) => match self.network_named(&network.name, &operation).await? {
                Some(existing) => self.adopt_existing(tenant, &network.name, existing),
                None => Err(self.fail(operation, e)),
            },
            Err(e) => Err(self.fail(operation, e)),
        }
    }

    /// An existing network of this instance and tenant is "already created"; any other is a conflict.
    fn adopt_existing(
        &self,
        tenant: &TenantName,
        name: &str,
        existing: NetworkInspect,
    ) -> Result<String, RuntimeError> {
        let labels = existing.labels.as_ref();
        let same_tenant = labels.and_then(|l| l.get(labels::TENANT)).is_some_and(|t| t == tenant.as_str());
        match existing.id {
            Some(id) if is_ours(labels, &self.instance) && same_tenant => Ok(id),
            _ => Err(RuntimeError::Conflict { kind: "network".into(), name: name.to_string() }),
        }
    }

    pub(super) async fn remove_tenant_network(&self, name: &str) -> Result<(), RuntimeError> {
        let operation = format!("remove network {name}");
        let Some(existing) = self.network_named(name, &operation).await? else {
            return Ok(());
        };
        if !is_ours(existing.labels.as_ref(), &self.instance) {
            return Err(RuntimeError::Conflict { kind: "network".into(), name: name.to_string() });
        }
        // Remove by id: a foreign network might share the name on old engines.
        let id = existing.id.as_deref().unwrap_or(name);
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.remove_network(id)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(self.fail(operation, e)),
        }
    }

    /// The network named exactly `name`, if any. The engine also resolves ids and id prefixes,
    /// so the name is compared.
    async fn network_named(&self, name: &str, operation: &str) -> Result<Option<NetworkInspect>, RuntimeError> {
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.inspect_network(name, None::<InspectNetworkOptions>)).await {
            Ok(n) if n.name.as_deref() == Some(name) => Ok(Some(n)),
            Ok(_) => Ok(None),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(self.fail(format!("{operation}: inspect"), e)),
        }
    }
}
