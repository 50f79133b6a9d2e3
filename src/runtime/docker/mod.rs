//! The Docker runtime (bollard): connecting and negotiating the API version, and the
//! [`Runtime`] implementation, whose calls live in the files named for what they touch.

mod build_context;
mod container;
mod endpoint;
mod errors;
mod events;
mod exec;
mod facts;
mod firewall;
mod host_routes;
mod identify;
mod image;
pub mod ingress_image;
mod lifecycle;
mod limits;
mod logs;
mod network;
mod observe;
mod owner;
mod scope;
mod stats;
mod subnets;
mod ulimits;
mod volume;

use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use futures_util::stream::BoxStream;
use tokio::sync::OnceCell;

// What a container is created with, as the engine receives it: public for the fuzz targets,
// which check that no spec can make it less hardened.
#[doc(hidden)]
pub use container::create_body;
#[doc(hidden)]
pub use container::NO_IPV6_SYSCTLS;
pub use endpoint::{DEFAULT_ENDPOINT, ROOTFUL_PODMAN_SOCKET};
pub use subnets::{SubnetPool, SubnetPoolError, DEFAULT_NETWORK_POOL, DEFAULT_NETWORK_PREFIX};
pub use ulimits::{ContainerUlimits, DEFAULT_NOFILE, DEFAULT_NPROC};

use self::endpoint::{Endpoint, SocketCandidates};
use self::errors::{unreachable, within};
use self::scope::{instance_filter, tenant_filter};
use crate::render::{DesiredContainer, DesiredNetwork, ImageSource, Limits};
use crate::runtime::engine::{EngineInfo, EngineKind};
use crate::runtime::error::{RuntimeError, UnreachableReason};
use crate::runtime::model::{EngineEvent, InstanceOwner, LimitUpdates, ObservedWorld, ResourceSample};
use crate::runtime::registry::RegistryAuth;
use crate::runtime::{ContainerEngine, ExecIo, ExecRequest, Family, ImageOutcome, LogChunk, LogRequest, Runtime};
use crate::spec::TenantName;

/// How long tenantd waits for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Any single call (a stop also gets its grace period on top).
    pub call: Duration,
    /// A whole pull or build.
    pub image: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { call: Duration::from_secs(30), image: Duration::from_secs(30 * 60) }
    }
}

/// A Docker engine, scoped to one tenantd instance: it lists, changes and removes only objects
/// labelled `io.tenantd.instance=<instance>`, and refuses (`Conflict`) anything else.
///
/// Connecting does no I/O: the engine is first contacted (and the API version negotiated) by
/// the first call, so a daemon can start while the engine is away and report it as
/// `Unreachable`.
pub struct DockerRuntime {
    instance: TenantName,
    endpoint: Endpoint,
    registries: Vec<RegistryAuth>,
    timeouts: Timeouts,
    subnet_pool: SubnetPool,
    /// Subnets of network creates still in flight in this process.
    subnets_in_flight: std::sync::Mutex<std::collections::BTreeSet<ipnet::Ipv4Net>>,
    /// One lock per image reference, so that tenants needing the same image in the same pass
    /// build or pull it once: two concurrent builds of one tag make two images, and the tag
    /// moving to the second would make the first tenant's new container look outdated.
    image_locks: image::ImageLocks,
    client: OnceCell<Docker>,
    /// Which engine answered, once one has.
    engine: std::sync::OnceLock<EngineInfo>,
    /// The `nofile`/`nproc` limits every tenant container gets.
    ulimits: ContainerUlimits,
    /// The host rules kept for this instance's networks; `None` when the host's own firewall
    /// does that job.
    host_firewall: Option<crate::host_firewall::HostFirewall>,
    /// What the engine's `/info` said, once asked.
    facts: std::sync::OnceLock<facts::EngineFacts>,
    /// Whether this process's last rewrite of the host rules succeeded.
    host_rules_in_force: std::sync::atomic::AtomicBool,
}

impl DockerRuntime {
    /// A runtime for `instance` at `host`, else `DOCKER_HOST`, else the first socket found of
    /// Docker's, rootful Podman's and rootless Podman's, else [`DEFAULT_ENDPOINT`].
    /// Only `unix://` and `tcp://` (plain HTTP) endpoints are supported; anything else is an
    /// `Engine` error naming the endpoint. `registries` are used for pulls and never logged.
    pub fn connect(
        instance: &TenantName,
        host: Option<&str>,
        registries: Vec<RegistryAuth>,
    ) -> Result<Self, RuntimeError> {
        let from_env = std::env::var("DOCKER_HOST").ok();
        let xdg_runtime_dir = std::env::var("XDG_RUNTIME_DIR").ok();
        let candidates = SocketCandidates::standard(xdg_runtime_dir.as_deref());
        // A socket counts as present when anything is there: one tenantd may not read still
        // gets picked, so the error says "permission denied" rather than naming another engine.
        let exists = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok();
        Ok(Self {
            instance: instance.clone(),
            endpoint: Endpoint::choose(host, from_env.as_deref(), &candidates, exists)?,
            registries,
            timeouts: Timeouts::default(),
            subnet_pool: SubnetPool::default(),
            subnets_in_flight: Default::default(),
            image_locks: Default::default(),
            client: OnceCell::new(),
            engine: std::sync::OnceLock::new(),
            ulimits: ContainerUlimits::within_own_hard_limits(),
            host_firewall: None,
            facts: std::sync::OnceLock::new(),
            host_rules_in_force: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Replaces the default [`Timeouts`].
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Replaces the default pool tenant networks take their subnets from.
    pub fn with_subnet_pool(mut self, pool: SubnetPool) -> Self {
        self.subnet_pool = pool;
        self
    }

    /// Keeps `firewall` in line with this instance's networks: rewritten after each network
    /// is created (before any of its containers starts) or removed, and by
    /// [`Runtime::sync_host_rules`]. Without it, nothing on the host is touched.
    pub fn with_host_firewall(mut self, firewall: crate::host_firewall::HostFirewall) -> Self {
        self.host_firewall = Some(firewall);
        self
    }

    /// The instance this runtime is scoped to.
    pub fn instance(&self) -> &TenantName {
        &self.instance
    }

    /// The client, connected and version-negotiated on first use. A failure is not remembered:
    /// the next call tries again.
    async fn client(&self) -> Result<&Docker, RuntimeError> {
        if let Endpoint::Unix(path) = &self.endpoint {
            // Checked on every call: the socket disappears when the engine stops.
            if let Err(e) = std::fs::metadata(path) {
                let reason = match e.kind() {
                    std::io::ErrorKind::PermissionDenied => UnreachableReason::PermissionDenied,
                    _ => UnreachableReason::SocketMissing,
                };
                return Err(RuntimeError::Unreachable {
                    endpoint: self.endpoint.to_string(),
                    reason,
                    source: Some(Box::new(e)),
                });
            }
        }
        self.client
            .get_or_try_init(|| async {
                // bollard's own deadline only bounds the wait for response headers; every call
                // is bounded by `within`, so this is just a backstop above the longest one.
                let backstop = self.timeouts.image.as_secs().max(1);
                let docker = match &self.endpoint {
                    Endpoint::Unix(path) => {
                        Docker::connect_with_unix(&path.to_string_lossy(), backstop, bollard::API_DEFAULT_VERSION)
                    }
                    Endpoint::Tcp(address) => {
                        Docker::connect_with_http(address, backstop, bollard::API_DEFAULT_VERSION)
                    }
                }
                .map_err(|e| self.fail("connect", e))?;
                // An engine refuses paths versioned above its API (Docker 20.10: 1.41, bollard
                // 0.21: 1.53). bollard 0.21 in fact sends unversioned paths, which the engine
                // serves at its own version; negotiating keeps `client_version` true to the
                // engine and stays right if bollard starts prefixing paths.
                let docker = within(self.timeouts.call, docker.negotiate_version())
                    .await
                    .map_err(|e| self.fail("negotiate the API version", e))?;
                let version = within(self.timeouts.call, docker.version())
                    .await
                    .map_err(|e| self.fail("ask the engine's version", e))?;
                let engine = identify::identify(&version, &self.endpoint.to_string());
                tracing::info!(engine = %engine, api = %docker.client_version(), "connected to the engine");
                // Set once: a later reconnect (same endpoint) cannot change what answered first.
                let _ = self.engine.set(engine);
                Ok(docker)
            })
            .await
    }

    /// How the engine that answered can change limits, by its kind alone: Podman (4.x) has no
    /// compatible update call, and its own update leaves what inspect reports unchanged.
    fn limit_updates(&self) -> LimitUpdates {
        match self.engine.get().map(|e| e.kind) {
            Some(EngineKind::Podman) => LimitUpdates::Recreate,
            Some(EngineKind::Docker) | None => LimitUpdates::InPlace,
        }
    }

    /// `err` as a [`RuntimeError`] for `operation` on this endpoint.
    fn fail(&self, operation: impl Into<String>, err: bollard::errors::Error) -> RuntimeError {
        errors::map(&self.endpoint.to_string(), operation, err)
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn family(&self) -> Family<'_> {
        Family::Containers(self)
    }
    fn describe(&self) -> String {
        match self.engine.get() {
            Some(engine) => engine.to_string(),
            None => format!("docker at {}", self.endpoint),
        }
    }

    fn engine(&self) -> Option<EngineInfo> {
        self.engine.get().cloned()
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        let endpoint = self.endpoint.to_string();
        // Whatever stands between tenantd and a pong means the engine is not usable: an answer
        // that is not Docker's counts as unreachable too.
        let docker = match self.client().await {
            Ok(docker) => docker,
            Err(e @ RuntimeError::Unreachable { .. }) => return Err(e),
            Err(e) => {
                return Err(RuntimeError::Unreachable {
                    endpoint,
                    reason: UnreachableReason::Other,
                    source: Some(Box::new(e)),
                })
            }
        };
        match within(self.timeouts.call, docker.ping()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let reason = errors::unreachable_reason(&e).unwrap_or(UnreachableReason::Other);
                Err(unreachable(&endpoint, reason, Some(e)))
            }
        }
    }

    async fn observe(&self, images: &[String], names: &[String]) -> Result<ObservedWorld, RuntimeError> {
        let filter = instance_filter(&self.instance);
        self.observe_labelled(&filter, images, names).await
    }

    async fn sync_host_rules(&self) -> Result<(), RuntimeError> {
        self.sync_host_firewall().await
    }

    async fn owner(&self) -> Result<Option<InstanceOwner>, RuntimeError> {
        self.recorded_owner().await
    }

    async fn claim_owner(&self, owner: &InstanceOwner, replace: bool) -> Result<InstanceOwner, RuntimeError> {
        self.record_owner(owner, replace).await
    }

    async fn observe_tenant(
        &self,
        tenant: &TenantName,
        images: &[String],
        names: &[String],
    ) -> Result<ObservedWorld, RuntimeError> {
        let filter = tenant_filter(&self.instance, tenant);
        self.observe_labelled(&filter, images, names).await
    }

    async fn events(&self) -> Result<BoxStream<'static, Result<EngineEvent, RuntimeError>>, RuntimeError> {
        self.subscribe().await
    }
}

#[async_trait]
impl ContainerEngine for DockerRuntime {
    async fn ensure_image(&self, image: &ImageSource) -> Result<ImageOutcome, RuntimeError> {
        self.ensure(image).await
    }

    async fn create_network(&self, tenant: &TenantName, network: &DesiredNetwork) -> Result<String, RuntimeError> {
        self.create_tenant_network(tenant, network).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        self.remove_tenant_network(name).await
    }

    async fn create_volume(&self, tenant: &TenantName, name: &str) -> Result<(), RuntimeError> {
        self.create_tenant_volume(tenant, name).await
    }

    async fn create_container(
        &self,
        tenant: &TenantName,
        spec_hash: &str,
        container: &DesiredContainer,
        network: &str,
        host_port: Option<u16>,
    ) -> Result<String, RuntimeError> {
        self.create(tenant, spec_hash, container, network, host_port).await
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.start(id).await
    }

    async fn stop_container(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError> {
        self.stop(id, timeout_secs).await
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.remove(id).await
    }

    async fn update_limits(&self, id: &str, limits: &Limits) -> Result<(), RuntimeError> {
        self.update(id, limits).await
    }

    async fn connect_network(&self, id: &str, network: &str, aliases: &[String]) -> Result<(), RuntimeError> {
        self.attach(id, network, aliases).await
    }

    async fn disconnect_network(&self, id: &str, network: &str) -> Result<(), RuntimeError> {
        self.detach(id, network).await
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), RuntimeError> {
        self.rename(id, new_name).await
    }

    async fn restart_container(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError> {
        self.restart(id, timeout_secs).await
    }

    async fn address(&self, id: &str, network: &str) -> Result<Option<std::net::Ipv4Addr>, RuntimeError> {
        let Some(c) = self.owned_container(id, "find the address of").await? else { return Ok(None) };
        Ok(c.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|e| e.ip_address)
            .and_then(|ip| ip.parse().ok()))
    }

    async fn signal_container(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        self.signal(id, signal).await
    }

    async fn stats(&self, id: &str) -> Result<ResourceSample, RuntimeError> {
        self.sample(id).await
    }

    async fn logs(
        &self,
        id: &str,
        request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError> {
        self.read_logs(id, request).await
    }

    async fn exec(&self, id: &str, request: &ExecRequest, io: ExecIo) -> Result<i64, RuntimeError> {
        self.run_exec(id, request, io).await
    }
}
