//! Tenant volumes: created with this instance's labels, never adopted from another owner.

use bollard::models::VolumeCreateRequest;

use super::errors::within;
use super::scope::object_labels;
use super::DockerRuntime;
use crate::runtime::error::RuntimeError;
use crate::spec::TenantName;

impl DockerRuntime {
    pub(super) async fn create_tenant_volume(&self, tenant: &TenantName, name: &str) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        let wanted = object_labels(&self.instance, tenant);
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".into()),
            labels: Some(wanted.clone()),
            ..Default::default()
        };
        // Creating a volume that exists returns the existing one unchanged, labels included:
        // its labels say whose it is.
        let volume = within(self.timeouts.call, docker.create_volume(request))
            .await
            .map_err(|e| self.fail(format!("create volume {name}"), e))?;
        let ours = wanted.iter().all(|(k, v)| volume.labels.get(k) == Some(v));
        if ours {
            Ok(())
        } else {
            Err(RuntimeError::Conflict { kind: "volume".into(), name: name.to_string() })
        }
    }
}
