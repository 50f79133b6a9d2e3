//! Changing a tenant's objects: server-side apply under the field manager `tenantd` (forced, so
//! fields someone else took are taken back), and deletes conditional on the observed uid.

use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};

use super::errors::{fail, within};
use super::secret::fill;
use super::KubernetesRuntime;
use crate::render::kubernetes::{namespace_name, DesiredObject, ObjectKind, FIELD_MANAGER};
use crate::runtime::{RuntimeError, SecretValues};
use crate::spec::TenantName;

impl KubernetesRuntime {
    pub(super) async fn apply(
        &self,
        tenant: &TenantName,
        object: &DesiredObject,
        secrets: &SecretValues,
    ) -> Result<(), RuntimeError> {
        let namespace = namespace_name(&self.instance, tenant);
        let api = self.api(object.kind, object.kind.namespaced().then_some(namespace.as_str()));
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let operation = format!("apply {} {}", object.kind, object.name);
        let result = if object.kind == ObjectKind::Secret {
            let mut manifest = object.manifest.clone();
            fill(&mut manifest, secrets);
            let sent = within(api.patch(&object.name, &params, &Patch::Apply(&manifest))).await;
            // The only copy of the values outside the request: gone before anything can report.
            drop(manifest);
            sent
        } else {
            within(api.patch(&object.name, &params, &Patch::Apply(&object.manifest))).await
        };
        let quiet = object.kind == ObjectKind::Secret;
        result.map(|_| ()).map_err(|e| fail(&self.endpoint, operation, e, quiet))
    }

    pub(super) async fn delete(
        &self,
        tenant: &TenantName,
        kind: ObjectKind,
        name: &str,
        uid: &str,
    ) -> Result<(), RuntimeError> {
        let namespace = namespace_name(&self.instance, tenant);
        let api = self.api(kind, kind.namespaced().then_some(namespace.as_str()));
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid: Some(uid.to_string()), resource_version: None }),
            ..Default::default()
        };
        match within(api.delete(name, &params)).await {
            Ok(_) => Ok(()),
            // Gone already.
            Err(e) if e.code() == Some(404) => Ok(()),
            Err(e) if e.code() == Some(409) => Err(RuntimeError::Engine {
                operation: format!("delete {kind} {name}"),
                message: "it was replaced since it was observed; left alone, the next pass looks again".into(),
            }),
            Err(e) => Err(fail(&self.endpoint, format!("delete {kind} {name}"), e, false)),
        }
    }
}
