//! The runtime traits: the only door from plan/apply/status logic to a container engine or a
//! cluster. [`Runtime`] is what every backend has; [`ContainerEngine`] and [`Cluster`] are what
//! each family changes things with.

pub mod attach;
pub mod docker;
pub mod engine;
pub mod error;
pub mod fake;
pub mod kubernetes;
pub mod model;
pub mod registry;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

pub use attach::{ExecIo, ExecRequest, LogChunk, LogRequest, LogSince, TtySize};
pub use engine::{EngineInfo, EngineKind};
pub use error::RuntimeError;
pub use model::*;

use crate::render::kubernetes::{DesiredObject, ObjectKind};
use crate::render::{DesiredContainer, DesiredNetwork, ImageSource, Limits};
use crate::spec::TenantName;

/// What the runtime did about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    AlreadyPresent { id: String },
    Pulled { id: String },
    Built { id: String },
}

/// A backend as every part of tenantd uses it, whatever it is made of: it is observed, owned by
/// one state directory and reports its events. Every call is scoped to one instance: an
/// implementation only lists, changes or removes objects that carry that instance's label.
/// "Already done" (removing what is gone, stopping what is stopped) is success.
///
/// What a backend changes depends on its [`Family`]: a container engine creates containers,
/// networks and volumes itself ([`ContainerEngine`]); a cluster takes objects and runs them
/// ([`Cluster`]). A plan is made for one family, and its steps call that family's trait.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// A short description of the engine and its endpoint, for messages (`docker at unix:///var/run/docker.sock`).
    fn describe(&self) -> String;

    /// The engine that answered, once one has (Docker or Podman, with its version); `None`
    /// before the first successful call and for runtimes that are not container engines.
    fn engine(&self) -> Option<EngineInfo> {
        None
    }

    /// What this backend is made of, with the calls that family has.
    fn family(&self) -> Family<'_>;

    /// Checks that the engine answers.
    async fn ping(&self) -> Result<(), RuntimeError>;

    /// Everything of this instance, plus the local ids of `images` and any foreign objects
    /// that hold one of `names` (names tenantd may give any of its objects), each with its
    /// kind: a name is only taken from objects of the same kind.
    async fn observe(&self, images: &[String], names: &[String]) -> Result<ObservedWorld, RuntimeError>;

    /// Like `observe`, but only the objects of one tenant (and the foreign objects holding
    /// `names`); the world holds that tenant or none.
    async fn observe_tenant(
        &self,
        tenant: &TenantName,
        images: &[String],
        names: &[String],
    ) -> Result<ObservedWorld, RuntimeError>;

    /// Brings whatever the host enforces about tenant networks (which of them may reach the
    /// host's services, and what a network with egress denied may reach at all) in line with
    /// the networks this instance has now. A runtime that keeps such rules also does this
    /// itself whenever it creates (before any container of the network can start) or removes a
    /// network. Runtimes whose platform enforces it otherwise (a cluster's NetworkPolicies)
    /// keep this default, which has nothing to do. An error means the rules are not in force:
    /// callers must not start containers.
    async fn sync_host_rules(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// The state directory recorded on the engine as this instance's owner, if any.
    async fn owner(&self) -> Result<Option<InstanceOwner>, RuntimeError>;

    /// Records `owner` as this instance's owner when none is recorded yet, and returns the owner
    /// recorded afterwards: someone else's when another state directory holds the instance (or
    /// got there first). With `replace`, whatever is recorded is replaced by `owner` (taking
    /// over). Recording what is already recorded changes nothing on the engine.
    async fn claim_owner(&self, owner: &InstanceOwner, replace: bool) -> Result<InstanceOwner, RuntimeError>;

    /// The engine's events about this instance's objects, as they happen. The stream ends or
    /// yields an error when the connection drops; callers subscribe again.
    async fn events(&self) -> Result<BoxStream<'static, Result<EngineEvent, RuntimeError>>, RuntimeError>;

    /// The error for an operation this runtime does not have.
    fn unsupported(&self, operation: String) -> RuntimeError {
        RuntimeError::Unsupported { runtime: self.describe(), operation }
    }

    /// This runtime as a container engine, or the error that says it is not one (`operation`:
    /// what was asked of it, for the message).
    fn containers(&self, operation: &str) -> Result<&dyn ContainerEngine, RuntimeError> {
        match self.family() {
            Family::Containers(engine) => Ok(engine),
            Family::Cluster(_) => Err(self.unsupported(operation.to_string())),
        }
    }

    /// This runtime as a cluster, or the error that says it is not one.
    fn cluster(&self, operation: &str) -> Result<&dyn Cluster, RuntimeError> {
        match self.family() {
            Family::Cluster(cluster) => Ok(cluster),
            Family::Containers(_) => Err(self.unsupported(operation.to_string())),
        }
    }
}

/// What a runtime is made of.
#[derive(Clone, Copy)]
pub enum Family<'a> {
    /// Docker, Podman, the fake: tenantd creates and supervises each container itself.
    Containers(&'a dyn ContainerEngine),
    /// Kubernetes: tenantd applies objects and the cluster runs them.
    Cluster(&'a dyn Cluster),
}

/// A container engine: tenantd makes images available and creates, starts, changes and
/// removes networks, volumes and containers itself.
#[async_trait]
pub trait ContainerEngine: Runtime {
    /// Makes the image available locally: pulls (per its policy) or builds it.
    async fn ensure_image(&self, image: &ImageSource) -> Result<ImageOutcome, RuntimeError>;

    async fn create_network(&self, tenant: &TenantName, network: &DesiredNetwork) -> Result<String, RuntimeError>;
    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError>;
    async fn create_volume(&self, tenant: &TenantName, name: &str) -> Result<(), RuntimeError>;

    /// Creates (does not start) a container on `network`, publishing its port on
    /// `127.0.0.1:host_port` when given. Returns the container id.
    async fn create_container(
        &self,
        tenant: &TenantName,
        spec_hash: &str,
        container: &DesiredContainer,
        network: &str,
        host_port: Option<u16>,
    ) -> Result<String, RuntimeError>;
    async fn start_container(&self, id: &str) -> Result<(), RuntimeError>;
    async fn stop_container(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError>;
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError>;
    /// Changes limits in place: same container, no restart.
    async fn update_limits(&self, id: &str, limits: &Limits) -> Result<(), RuntimeError>;

    /// Attaches a container of this instance to `network` (one of this instance's), answering
    /// to `aliases` there; running or not, it is not restarted. Already attached is success.
    async fn connect_network(&self, id: &str, network: &str, aliases: &[String]) -> Result<(), RuntimeError>;

    /// Detaches a container of this instance from `network` (whoever owns the network). Not
    /// attached is success.
    async fn disconnect_network(&self, id: &str, network: &str) -> Result<(), RuntimeError>;

    /// Renames a container of this instance (used to keep an old container aside while its
    /// replacement proves healthy).
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), RuntimeError>;

    /// The IPv4 address a container of this instance has on `network` now; `None` when it has
    /// none there (not running, not attached).
    async fn address(&self, id: &str, network: &str) -> Result<Option<std::net::Ipv4Addr>, RuntimeError>;

    /// Restarts a container of this instance (stop with `timeout_secs`, then start).
    async fn restart_container(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError>;

    /// Sends a signal (`SIGHUP`, …) to a running container of this instance.
    async fn signal_container(&self, id: &str, signal: &str) -> Result<(), RuntimeError>;

    /// One sample of a container's resource counters.
    async fn stats(&self, id: &str) -> Result<ResourceSample, RuntimeError>;

    /// A container's output as the engine kept it, stdout and stderr apart. With
    /// `request.follow` the stream goes on until the container stops.
    async fn logs(
        &self,
        id: &str,
        request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError>;

    /// Runs a command in a running container of this instance, attached to `io`, and returns
    /// its exit code once it has ended and its output has been written.
    async fn exec(&self, id: &str, request: &ExecRequest, io: ExecIo) -> Result<i64, RuntimeError>;
}

/// A cluster: tenantd applies each tenant's objects and the cluster runs them (its nodes pull
/// the images, its kubelets restart the containers).
#[async_trait]
pub trait Cluster: Runtime {
    /// Creates or updates one object of `tenant` by server-side apply, taking back fields
    /// others changed. A Secret gets `secrets` as its values.
    async fn apply_object(
        &self,
        tenant: &TenantName,
        object: &DesiredObject,
        secrets: &SecretValues,
    ) -> Result<(), RuntimeError>;

    /// Deletes one object of `tenant`, but only while it is the object that was observed
    /// (`uid`); one already gone is success.
    async fn delete_object(
        &self,
        tenant: &TenantName,
        kind: ObjectKind,
        name: &str,
        uid: &str,
    ) -> Result<(), RuntimeError>;

    /// Has the cluster replace the pod of `tenant`'s runtime (every container of it: a pod
    /// restarts as a whole) as `kubectl rollout restart` does, stamping the pod template with
    /// `at`. The Deployment's own strategy replaces the pod; volumes are kept. tenantd's next
    /// plan sees nothing to change: the stamp is not part of what it applies.
    async fn restart_pod(&self, tenant: &TenantName, at: time::OffsetDateTime) -> Result<(), RuntimeError>;

    /// The output of `container` of `tenant`'s current pod, as the cluster keeps it: one stream
    /// per container, so it all comes as stdout. With `request.follow` the stream goes on until
    /// the container stops or its pod goes.
    async fn pod_logs(
        &self,
        tenant: &TenantName,
        container: &str,
        request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError>;

    /// The CPU and memory use of each container of `tenant`'s current pod, from the cluster's
    /// metrics API; `None` while it has no sample of the pod yet. [`RuntimeError::NoMetricsApi`]
    /// when the cluster serves no metrics API.
    async fn pod_usage(&self, tenant: &TenantName) -> Result<Option<Vec<ContainerUsage>>, RuntimeError>;

    /// Runs a command in `container` of `tenant`'s current pod, attached to `io`, and returns
    /// its exit code once it has ended and its output has been written.
    async fn exec_in(
        &self,
        tenant: &TenantName,
        container: &str,
        request: &ExecRequest,
        io: ExecIo,
    ) -> Result<i64, RuntimeError>;
}

/// A tenant's decrypted secrets, by name, for the one call that hands them to a cluster.
pub type SecretValues = std::collections::BTreeMap<crate::spec::SecretName, crate::secrets::Plaintext>;
