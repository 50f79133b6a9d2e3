//! The instance's ownership marker: a volume `<instance>_owner` labelled with this instance and
//! with the owning state directory's id, host and path. A volume because it is the engine's
//! cheapest object that keeps labels and outlives every container; it is never mounted.
//! Labels cannot change on a volume, so taking over removes the marker and creates it again.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;

use super::errors::{is_status, within};
use super::scope::is_ours;
use super::DockerRuntime;
use crate::render::labels;
use crate::runtime::error::RuntimeError;
use crate::runtime::model::InstanceOwner;

/// True for the labels of an ownership marker (which belongs to no tenant).
pub(super) fn is_owner_marker(l: &HashMap<String, String>) -> bool {
    l.get(labels::ROLE).is_some_and(|r| r == labels::OWNER_ROLE)
}

impl DockerRuntime {
    /// `<instance>_owner`: no tenant object can have it (a tenant volume's name has a third
    /// part, `_vol-<name>`; containers and networks are not volumes).
    fn marker_name(&self) -> String {
        format!("{}_owner", self.instance)
    }

    pub(super) async fn recorded_owner(&self) -> Result<Option<InstanceOwner>, RuntimeError> {
        let name = self.marker_name();
        let docker = self.client().await?;
        let volume = match within(self.timeouts.call, docker.inspect_volume(&name)).await {
            Ok(v) => v,
            Err(e) if is_status(&e, 404) => return Ok(None),
            Err(e) => return Err(self.fail(format!("inspect volume {name}"), e)),
        };
        owner_of(&name, &volume.labels, &self.instance).map(Some)
    }

    pub(super) async fn record_owner(
        &self,
        owner: &InstanceOwner,
        replace: bool,
    ) -> Result<InstanceOwner, RuntimeError> {
        let name = self.marker_name();
        match self.recorded_owner().await? {
            Some(recorded) if recorded.id == owner.id || !replace => return Ok(recorded),
            Some(_) => self.remove_marker(&name).await?,
            None => {}
        }
        let mut l = HashMap::from([
            (labels::INSTANCE.to_string(), self.instance.to_string()),
            (labels::ROLE.to_string(), labels::OWNER_ROLE.to_string()),
            (labels::OWNER_ID.to_string(), owner.id.clone()),
            (labels::OWNER_HOST.to_string(), owner.host.clone()),
            (labels::OWNER_STATE_DIR.to_string(), owner.state_dir.clone()),
        ]);
        l.retain(|_, v| !v.is_empty());
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            driver: Some("local".into()),
            labels: Some(l),
            ..Default::default()
        };
        let docker = self.client().await?;
        // A marker created by another state directory in the meantime comes back unchanged, with
        // its own labels: whoever created it first owns the instance.
        let volume = within(self.timeouts.call, docker.create_volume(request))
            .await
            .map_err(|e| self.fail(format!("create volume {name}"), e))?;
        owner_of(&name, &volume.labels, &self.instance)
    }

    async fn remove_marker(&self, name: &str) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.remove_volume(name, None::<RemoveVolumeOptions>)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(self.fail(format!("remove volume {name}"), e)),
        }
    }
}

/// The owner a marker's labels record; a volume of that name that is not this instance's marker
/// is a conflict: tenantd neither reads nor replaces it.
fn owner_of(
    name: &str,
    l: &HashMap<String, String>,
    instance: &crate::spec::TenantName,
) -> Result<InstanceOwner, RuntimeError> {
    if !is_ours(Some(l), instance) || !is_owner_marker(l) {
        return Err(RuntimeError::Conflict { kind: "volume".into(), name: name.to_string() });
    }
    let label = |key: &str| l.get(key).cloned().unwrap_or_default();
    Ok(InstanceOwner {
        id: label(labels::OWNER_ID),
        host: label(labels::OWNER_HOST),
        state_dir: label(labels::OWNER_STATE_DIR),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_instances_marker_is_read() {
        let instance: crate::spec::TenantName = "prod".parse().unwrap();
        let mut l = HashMap::from([
            (labels::INSTANCE.to_string(), "prod".to_string()),
            (labels::ROLE.to_string(), labels::OWNER_ROLE.to_string()),
            (labels::OWNER_ID.to_string(), "abc".to_string()),
            (labels::OWNER_HOST.to_string(), "h1".to_string()),
            (labels::OWNER_STATE_DIR.to_string(), "/var/lib/tenantd".to_string()),
        ]);
        let owner = owner_of("prod_owner", &l, &instance).unwrap();
        assert_eq!(owner.to_string(), "/var/lib/tenantd on h1 (id abc)");
        l.insert(labels::INSTANCE.to_string(), "other".into());
        assert!(matches!(owner_of("prod_owner", &l, &instance), Err(RuntimeError::Conflict { .. })));
        assert!(matches!(owner_of("prod_owner", &HashMap::new(), &instance), Err(RuntimeError::Conflict { .. })));
    }
}
