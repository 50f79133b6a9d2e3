//! The instance's ownership marker on a cluster: a Namespace `<instance>--owner` labelled with
//! this instance, the owning state directory's id, host and path in its annotations (a path is
//! no label value). A Namespace because the instance has no namespace of its own for a
//! ConfigMap to live in, and tenantd may already create and patch namespaces; it holds nothing.
//! Taking over patches the annotations (tenantd may not delete namespaces).

use std::collections::BTreeMap;

use kube::api::{DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};

use super::errors::{fail, within};
use super::{api_resource, KubernetesRuntime};
use crate::render::kubernetes::{ObjectKind, FIELD_MANAGER};
use crate::render::labels;
use crate::runtime::model::InstanceOwner;
use crate::runtime::RuntimeError;
use crate::spec::TenantName;

/// True for the labels of an ownership marker (which belongs to no tenant).
pub(super) fn is_owner_marker(l: Option<&BTreeMap<String, String>>) -> bool {
    l.and_then(|l| l.get(labels::ROLE)).is_some_and(|r| r == labels::OWNER_ROLE)
}

/// `<instance>--owner`: a tenant's namespace is `<instance>-<tenant>`, and no tenant name (nor
/// instance name) starts or ends with `-`, so no tenant namespace of any instance has it.
fn marker_name(instance: &TenantName) -> String {
    format!("{instance}--owner")
}

impl KubernetesRuntime {
    pub(super) async fn recorded_owner(&self) -> Result<Option<InstanceOwner>, RuntimeError> {
        let name = marker_name(&self.instance);
        let api = self.api(ObjectKind::Namespace, None);
        match within(api.get_opt(&name)).await {
            Ok(None) => Ok(None),
            Ok(Some(ns)) => owner_of(&name, &ns.metadata, &self.instance).map(Some),
            Err(e) => Err(fail(&self.endpoint, format!("get namespace {name}"), e, false)),
        }
    }

    pub(super) async fn record_owner(
        &self,
        owner: &InstanceOwner,
        replace: bool,
    ) -> Result<InstanceOwner, RuntimeError> {
        let name = marker_name(&self.instance);
        let recorded = self.recorded_owner().await?;
        if let Some(r) = recorded.as_ref().filter(|r| r.id == owner.id || !replace) {
            return Ok(r.clone());
        }
        let api = self.api(ObjectKind::Namespace, None);
        let marker = self.marker(&name, owner);
        if recorded.is_none() {
            // Created, not applied: of two state directories that both find no marker, the
            // second is told it exists, and reads whose it is.
            let params = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
            return match within(api.create(&params, &marker)).await {
                Ok(created) => owner_of(&name, &created.metadata, &self.instance),
                Err(e) if e.code() == Some(409) => self.recorded_owner().await?.ok_or_else(|| RuntimeError::Engine {
                    operation: format!("create namespace {name}"),
                    message: "it exists and then does not".into(),
                }),
                Err(e) => Err(fail(&self.endpoint, format!("create namespace {name}"), e, false)),
            };
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match within(api.patch(&name, &params, &Patch::Apply(&marker))).await {
            Ok(patched) => owner_of(&name, &patched.metadata, &self.instance),
            Err(e) => Err(fail(&self.endpoint, format!("apply namespace {name}"), e, false)),
        }
    }

    fn marker(&self, name: &str, owner: &InstanceOwner) -> DynamicObject {
        let mut marker = DynamicObject::new(name, &api_resource(ObjectKind::Namespace));
        marker.metadata = ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([
                (labels::INSTANCE.to_string(), self.instance.to_string()),
                (labels::ROLE.to_string(), labels::OWNER_ROLE.to_string()),
            ])),
            annotations: Some(BTreeMap::from([
                (labels::OWNER_ID.to_string(), owner.id.clone()),
                (labels::OWNER_HOST.to_string(), owner.host.clone()),
                (labels::OWNER_STATE_DIR.to_string(), owner.state_dir.clone()),
            ])),
            ..Default::default()
        };
        marker
    }
}

/// The owner a marker records; a namespace of that name that is not this instance's marker is
/// a conflict: tenantd neither reads nor changes it.
fn owner_of(name: &str, meta: &ObjectMeta, instance: &TenantName) -> Result<InstanceOwner, RuntimeError> {
    let ours = meta.labels.as_ref().and_then(|l| l.get(labels::INSTANCE)).is_some_and(|i| i == instance.as_str());
    if !ours || !is_owner_marker(meta.labels.as_ref()) {
        return Err(RuntimeError::Conflict { kind: "namespace".into(), name: name.to_string() });
    }
    let annotation = |key: &str| meta.annotations.as_ref().and_then(|a| a.get(key)).cloned().unwrap_or_default();
    Ok(InstanceOwner {
        id: annotation(labels::OWNER_ID),
        host: annotation(labels::OWNER_HOST),
        state_dir: annotation(labels::OWNER_STATE_DIR),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_name_is_no_tenant_namespace() {
        let instance: TenantName = "prod".parse().unwrap();
        assert_eq!(marker_name(&instance), "prod--owner");
        // A tenant would need a name starting with `-`, which no tenant name has.
        assert!("-owner".parse::<TenantName>().is_err());
    }
}
