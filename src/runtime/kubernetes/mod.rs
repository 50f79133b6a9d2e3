//! The Kubernetes runtime (kube): each tenant as a namespace of objects on a cluster, applied
//! server-side under the field manager `tenantd`. The objects themselves are rendered in
//! `render::kubernetes`; the calls live in the files named for what they do.

mod apply;
mod connect;
mod errors;
mod events;
mod exec;
mod logs;
mod metrics;
mod observe;
mod owner;
mod pods;
mod restart;
mod secret;
mod tenant_pod;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use kube::api::{Api, ApiResource, DynamicObject};
use time::OffsetDateTime;

pub use connect::{resolve, ClusterConfigError, Env, ProcessEnv, Resolved};
pub use restart::{RESTARTED_AT, RESTART_MANAGER};
pub use secret::VALUES_HASH;

use self::errors::{fail, within};
use crate::config::KubernetesSettings;
use crate::render::kubernetes::{DesiredObject, ObjectKind};
use crate::runtime::model::{ContainerUsage, EngineEvent, InstanceOwner, ObservedWorld};
use crate::runtime::{Cluster, ExecIo, ExecRequest, Family, LogChunk, LogRequest, Runtime, RuntimeError, SecretValues};
use crate::spec::TenantName;

/// A cluster, scoped to one tenantd instance: it lists, changes and deletes only objects
/// labelled `io.tenantd.instance=<instance>`. Container-level calls (the Docker vocabulary)
/// are refused: a plan for a cluster is made of object applies and deletes; the day-2 calls
/// (restart, logs, stats, exec) reach a tenant's pod.
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
    fn family(&self) -> Family<'_> {
        Family::Cluster(self)
    }
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

    async fn events(&self) -> Result<BoxStream<'static, Result<EngineEvent, RuntimeError>>, RuntimeError> {
        Ok(self.watch())
    }
}

#[async_trait]
impl Cluster for KubernetesRuntime {
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

    async fn restart_pod(&self, tenant: &TenantName, at: OffsetDateTime) -> Result<(), RuntimeError> {
        self.rollout_restart(tenant, at).await
    }

    async fn pod_logs(
        &self,
        tenant: &TenantName,
        container: &str,
        request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError> {
        self.read_pod_logs(tenant, container, request).await
    }

    async fn pod_usage(&self, tenant: &TenantName) -> Result<Option<Vec<ContainerUsage>>, RuntimeError> {
        self.read_pod_usage(tenant).await
    }

    async fn exec_in(
        &self,
        tenant: &TenantName,
        container: &str,
        request: &ExecRequest,
        io: ExecIo,
    ) -> Result<i64, RuntimeError> {
        self.exec_in_pod(tenant, container, request, io).await
    }
}
