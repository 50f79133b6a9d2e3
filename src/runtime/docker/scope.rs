//! The instance scope: the labels every object gets, the list filter, and the ownership check
//! that stands before every change to an existing container.

use std::collections::HashMap;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::InspectContainerOptions;

use super::errors::{is_status, within};
use super::DockerRuntime;
use crate::render::labels;
use crate::runtime::error::RuntimeError;
use crate::spec::TenantName;

/// The labels that mark an object as this instance's and this tenant's.
pub(super) fn object_labels(instance: &TenantName, tenant: &TenantName) -> HashMap<String, String> {
    HashMap::from([
        (labels::INSTANCE.to_string(), instance.to_string()),
        (labels::TENANT.to_string(), tenant.to_string()),
    ])
}

/// The list filter that keeps only this instance's objects.
pub(super) fn instance_filter(instance: &TenantName) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{}={}", labels::INSTANCE, instance)])])
}

/// The list filter that keeps only one tenant's objects of this instance (the engine ANDs
/// label filters).
pub(super) fn tenant_filter(instance: &TenantName, tenant: &TenantName) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{}={}", labels::INSTANCE, instance), format!("{}={}", labels::TENANT, tenant)],
    )])
}

/// True when `labels` carry this instance's label.
pub(super) fn is_ours(labels: Option<&HashMap<String, String>>, instance: &TenantName) -> bool {
    labels.and_then(|l| l.get(labels::INSTANCE)).is_some_and(|v| v == instance.as_str())
}

/// A container's name as the engine reports it, without the leading `/`.
pub(super) fn bare_name(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

impl DockerRuntime {
    /// Inspects container `id` (an id or a name) before `operation` changes it: `None` when it
    /// does not exist, `Conflict` when it is not this instance's.
    pub(super) async fn owned_container(
        &self,
        id: &str,
        operation: &str,
    ) -> Result<Option<ContainerInspectResponse>, RuntimeError> {
        let docker = self.client().await?;
        let inspected = within(self.timeouts.call, docker.inspect_container(id, None::<InspectContainerOptions>)).await;
        match inspected {
            Ok(c) if is_ours(c.config.as_ref().and_then(|c| c.labels.as_ref()), &self.instance) => Ok(Some(c)),
            Ok(c) => Err(RuntimeError::Conflict {
                kind: "container".into(),
                name: c.name.as_deref().map(bare_name).unwrap_or(id).to_string(),
            }),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(self.fail(format!("{operation} {id}: inspect"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_instance_label_is_ours() {
        let inst: TenantName = "prod".parse().unwrap();
        let mut l = HashMap::from([(labels::INSTANCE.to_string(), "prod".to_string())]);
        assert!(is_ours(Some(&l), &inst));
        l.insert(labels::INSTANCE.to_string(), "prod2".into());
        assert!(!is_ours(Some(&l), &inst));
        assert!(!is_ours(Some(&HashMap::new()), &inst));
        assert!(!is_ours(None, &inst));
    }
}
