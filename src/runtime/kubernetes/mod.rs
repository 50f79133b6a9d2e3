//! The Kubernetes runtime (kube): each tenant as a namespace of objects on a cluster, applied
//! server-side under the field manager `tenantd`. The objects themselves are rendered in
//! `render::kubernetes`; the calls live in the files named for what they do.

mod apply;
mod connect;
mod errors;
mod events;
mod observe;
mod owner;
mod pods;
mod secret;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use kube::api::{Api, ApiResource, DynamicObject};

pub use connect::{resolve, ClusterConfigError, Env, ProcessEnv, Resolved};
pub use secret::VALUES_HASH;

use self::errors::{fail, within};
use crate::config::KubernetesSettings;
use crate::render::kubernetes::{DesiredObject, ObjectKind};
use crate::render::{DesiredContainer, DesiredNetwork, ImageSource, Limits};
use crate::runtime::model::{EngineEvent, InstanceOwner, ObservedWorld, ResourceSample};
use crate::runtime::{ExecIo, ExecRequest, ImageOutcome, LogChunk, LogRequest, Runtime, RuntimeError, SecretValues};
use crate::spec::TenantName;

/// A cluster, scoped to one tenantd instance: it lists, changes and deletes only objects
/// labelled `io.tenantd.instance=<instance>`. Container-level calls (the Docker vocabulary)
/// are refused: a plan for a cluster is made of object applies and deletes.
pub struct KubernetesRuntime {
    client: kube::Client,
    instance: TenantName,
    /// Where the API server is and which configuration said so, for messages.
    endpoint: String,
}

impl KubernetesRuntime {
    /// Resolves the cluster configuration (see [`resolve`]) and builds a client; no request is
    /// made. Fails when no configuration is usable: tenantd never falls back to Docker.
    pub async fn connect(settings: &KubernetesSettings, instance: &TenantName) -> Result<Self, ClusterConfigError> {
        let resolved = resolve(settings, &ProcessEnv).await?;
        let endpoint = resolved.source;
        let client = kube::Client::try_from(resolved.config)
            .map_err(|e| ClusterConfigError::Client { endpoint: endpoint.clone(), message: e.to_string() })?;
        Ok(Self { client, instance: instance.clone(), endpoint })
    }

    fn api(&self, kind: ObjectKind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = api_resource(kind);
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }
}

fn api_resource(kind: ObjectKind) -> ApiResource {
    let api_version = kind.api_version();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.to_string(),
        plural: kind.plural().into(),
    }
}

#[async_trait]
impl Runtime for KubernetesRuntime {
    fn describe(&self) -> String {
        format!("kubernetes at {}", self.endpoint)
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        within(self.client.apiserver_version()).await.map(|_| ()).map_err(|e| fail(&self.endpoint, "ping", e, false))
    }

    async fn observe(&self, _images: &[String], names: &[String]) -> Result<ObservedWorld, RuntimeError> {
        self.observe_scope(None, names).await
    }

    async fn observe_tenant(
        &self,
        tenant: &TenantName,
        _images: &[String],
        names: &[String],
    ) -> Result<ObservedWorld, RuntimeError> {
        self.observe_scope(Some(tenant), names).await
    }

    async fn owner(&self) -> Result<Option<InstanceOwner>, RuntimeError> {
        self.recorded_owner().await
    }

    async fn claim_owner(&self, owner: &InstanceOwner, replace: bool) -> Result<InstanceOwner, RuntimeError> {
        self.record_owner(owner, replace).await
    }

    async fn apply_object(
        &self,
        tenant: &TenantName,
        object: &DesiredObject,
        secrets: &SecretValues,
    ) -> Result<(), RuntimeError> {
        self.apply(tenant, object, secrets).await
    }

    async fn delete_object(
        &self,
        tenant: &TenantName,
        kind: ObjectKind,
        name: &str,
        uid: &str,
    ) -> Result<(), RuntimeError> {
        self.delete(tenant, kind, name, uid).await
    }

    async fn events(&self) -> Result<BoxStream<'static, Result<EngineEvent, RuntimeError>>, RuntimeError> {
        Ok(self.watch())
    }

    // The cluster's nodes pull images, and the pod is the unit of everything below: none of
    // these has a meaning here, and no plan for a cluster asks for them.

    async fn ensure_image(&self, image: &ImageSource) -> Result<ImageOutcome, RuntimeError> {
        Err(self.unsupported(format!("make image {} available (its nodes pull it)", image.reference())))
    }

    async fn create_network(&self, _tenant: &TenantName, network: &DesiredNetwork) -> Result<String, RuntimeError> {
        Err(self.unsupported(format!("create network {}", network.name)))
    }

    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("remove network {name}")))
    }

    async fn create_volume(&self, _tenant: &TenantName, name: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("create volume {name}")))
    }

    async fn create_container(
        &self,
        _tenant: &TenantName,
        _spec_hash: &str,
        container: &DesiredContainer,
        _network: &str,
        _host_port: Option<u16>,
    ) -> Result<String, RuntimeError> {
        Err(self.unsupported(format!("create container {}", container.name)))
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("start container {id}")))
    }

    async fn stop_container(&self, id: &str, _timeout_secs: u32) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("stop container {id}")))
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("remove container {id}")))
    }

    async fn update_limits(&self, id: &str, _limits: &Limits) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("update the limits of container {id}")))
    }

    async fn rename_container(&self, id: &str, _new_name: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("rename container {id}")))
    }

    async fn restart_container(&self, id: &str, _timeout_secs: u32) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("restart container {id}")))
    }

    async fn signal_container(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(format!("send {signal} to container {id}")))
    }

    async fn stats(&self, id: &str) -> Result<ResourceSample, RuntimeError> {
        Err(self.unsupported(format!("sample container {id} (no metrics API is used)")))
    }

    // Reading logs and attaching to a pod go through the pod's own API, which tenantd does not
    // speak yet: the messages name the kubectl command that does the same.

    async fn logs(
        &self,
        id: &str,
        _request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError> {
        Err(self.unsupported(format!(
            "read the logs of container {id}; use `kubectl logs -n <instance>-<tenant> deploy/runtime -c <container>`"
        )))
    }

    async fn exec(&self, id: &str, _request: &ExecRequest, _io: ExecIo) -> Result<i64, RuntimeError> {
        Err(self.unsupported(format!(
            "run a command in container {id}; use `kubectl exec -n <instance>-<tenant> -it deploy/runtime -c <container> -- CMD`"
        )))
    }
}
