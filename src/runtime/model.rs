//! What a runtime reports it sees: the input of `plan` beside the desired state.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::render::kubernetes::ObjectKind;
use crate::render::{ContainerRole, Limits};
use crate::spec::TenantName;

/// A container's lifecycle state as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited { code: i64 },
    Removing,
    Dead,
}

/// The engine's own healthcheck verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EngineHealth {
    /// No healthcheck is configured.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub role: ContainerRole,
    /// The image reference the container was created from.
    pub image_ref: String,
    /// The image id (`sha256:…`) the container runs.
    pub image_id: String,
    /// `None` when the label is missing (then the container is always replaced).
    pub config_hash: Option<String>,
    pub field_hashes: BTreeMap<String, String>,
    pub spec_hash: Option<String>,
    /// The `io.tenantd.applied` label: the settings the container was created with (JSON).
    pub applied: Option<String>,
    pub state: ContainerState,
    pub health: EngineHealth,
    /// Limits as the engine has them now (drift shows here).
    pub limits: Limits,
    /// Host port bound to 127.0.0.1, if any.
    pub host_port: Option<u16>,
    pub restart_count: i64,
    /// RFC 3339, as the engine reports it.
    pub started_at: Option<String>,
    /// The networks the container is attached to, with its aliases on each, sorted by network.
    pub networks: Vec<NetworkAttachment>,
    /// Why the engine holds the container back from running, when it says (clusters do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<ContainerProblem>,
}

/// One network a container is attached to, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAttachment {
    /// The network's name.
    pub network: String,
    /// The names the container answers to on that network (the engine may add its own, such
    /// as the short container id).
    pub aliases: Vec<String>,
    /// The container's IPv4 address on that network, while it has one (a running container).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::Ipv4Addr>,
}

impl NetworkAttachment {
    pub fn new(network: impl Into<String>, aliases: &[&str]) -> Self {
        Self { network: network.into(), aliases: aliases.iter().map(|a| a.to_string()).collect(), address: None }
    }
}

/// Why an engine holds a container back from running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum ContainerProblem {
    /// Its image cannot be pulled (`ImagePullBackOff`, `ErrImagePull`, an invalid name).
    ImagePull { message: String },
    /// It keeps exiting and the engine waits before starting it again (`CrashLoopBackOff`).
    CrashLoop { message: String },
    /// Anything else the engine names (`CreateContainerConfigError`, `OOMKilled`, …).
    Other { reason: String, message: String },
}

impl std::fmt::Display for ContainerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContainerProblem::ImagePull { message } => write!(f, "ImagePullBackOff: {message}"),
            ContainerProblem::CrashLoop { message } => write!(f, "CrashLoopBackOff: {message}"),
            ContainerProblem::Other { reason, message } => write!(f, "{reason}: {message}"),
        }
    }
}

/// One object of a tenant on a cluster, as the cluster holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedObject {
    pub kind: ObjectKind,
    pub name: String,
    /// Deleting the object is conditional on it: what was observed is what goes.
    pub uid: String,
    /// The hash of the manifest tenantd last applied (`io.tenantd.applied-hash`).
    pub applied_hash: Option<String>,
    /// The object without `status` and `metadata.managedFields`. A Secret's values are left
    /// out: `values_intact` says whether they are still what tenantd wrote.
    pub live: serde_json::Value,
    /// For a Secret: false when its values were changed by someone else.
    pub values_intact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedNetwork {
    pub id: String,
    pub name: String,
    pub internal: bool,
}

/// Everything of one tenant that carries this instance's labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedTenant {
    pub name: TenantName,
    pub network: Option<ObservedNetwork>,
    pub volumes: Vec<String>,
    pub containers: Vec<ObservedContainer>,
    /// On a cluster: every object of the tenant, by kind and name (empty on Docker).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObservedObject>,
}

impl ObservedTenant {
    pub fn empty(name: TenantName) -> Self {
        Self { name, network: None, volumes: vec![], containers: vec![], objects: vec![] }
    }

    pub fn object(&self, kind: ObjectKind, name: &str) -> Option<&ObservedObject> {
        self.objects.iter().find(|o| o.kind == kind && o.name == name)
    }

    pub fn container(&self, role: &ContainerRole) -> Option<&ObservedContainer> {
        self.containers.iter().find(|c| &c.role == role)
    }

    /// The host port the tenant is reached on: its ingress's when it has one, else the one its
    /// main container publishes itself (`rollout: stopFirst`, or made before ingresses).
    pub fn endpoint_port(&self) -> Option<u16> {
        match self.container(&ContainerRole::Ingress) {
            Some(ingress) => ingress.host_port,
            None => self.container(&ContainerRole::Main)?.host_port,
        }
    }

    /// [`Self::endpoint_port`] while both the main container and the ingress (if any) run:
    /// what tenantd probes.
    pub fn serving_port(&self) -> Option<u16> {
        let running = |role: &ContainerRole| self.container(role).is_some_and(|c| c.state == ContainerState::Running);
        let ingress_ok = self.container(&ContainerRole::Ingress).is_none() || running(&ContainerRole::Ingress);
        (running(&ContainerRole::Main) && ingress_ok).then(|| self.endpoint_port()).flatten()
    }
}

/// An object that holds a name tenantd wants but lacks this instance's labels: never adopted,
/// never deleted; the tenant is reported in conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForeignObject {
    pub kind: String,
    pub name: String,
}

/// The state directory that converges an instance, as the instance's marker on the engine
/// records it. Only `id` decides; host and path are there for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOwner {
    /// A random id kept in the state directory.
    pub id: String,
    /// The host the state directory is on, as that host names itself.
    pub host: String,
    /// The state directory's path on that host.
    pub state_dir: String,
}

impl std::fmt::Display for InstanceOwner {
    /// `/var/lib/tenantd on host1 (id 3f…)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {} (id {})", self.state_dir, self.host, self.id)
    }
}

/// The runtime's view of this instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedWorld {
    pub tenants: BTreeMap<TenantName, ObservedTenant>,
    /// Local image ids by reference, for the references asked about (`None`: not present locally).
    pub images: BTreeMap<String, Option<String>>,
    /// Objects of other owners that hold names asked about.
    pub foreign: Vec<ForeignObject>,
    /// How the engine can change a container's limits.
    #[serde(skip_serializing_if = "LimitUpdates::is_in_place")]
    pub limit_updates: LimitUpdates,
}

/// Whether an engine changes a running container's limits in place in a way a later
/// observation sees; where it cannot, a limit change must replace the container, or every plan
/// would ask for the same update again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LimitUpdates {
    #[default]
    InPlace,
    /// Podman 4 has no compatible update call, and its own one leaves inspect unchanged.
    Recreate,
    /// The engine enforces no limits at all (rootless on cgroup v1): it creates containers
    /// without them whatever it is asked, so a difference is no change to make.
    Unenforced,
}

impl LimitUpdates {
    pub fn is_in_place(&self) -> bool {
        *self == LimitUpdates::InPlace
    }
}

impl ObservedWorld {
    /// The host port each tenant publishes now (from any of its containers).
    pub fn host_ports(&self) -> BTreeMap<TenantName, u16> {
        self.tenants
            .iter()
            .filter_map(|(name, t)| t.containers.iter().find_map(|c| c.host_port).map(|p| (name.clone(), p)))
            .collect()
    }
}

/// What happened to an object, as the engine's event stream says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EngineEventKind {
    /// A container process exited (any reason).
    Die,
    /// A container was killed for running out of memory.
    Oom,
    /// A container's healthcheck verdict changed (or was reported again).
    HealthStatus,
    /// A container or network was removed.
    Destroy,
    Start,
    Stop,
    /// A container's settings were changed (`docker update`).
    Update,
    /// A container was detached from its tenant's network; the event's id is the container's,
    /// and its tenant is the network's (none when the engine does not name the network).
    NetworkDisconnect,
    /// A container of any owner was attached to a network that is no tenant's of this instance
    /// (or to one the engine does not name): no tenant, only the container's id.
    NetworkConnect,
    /// Anything else, by the engine's own action name.
    Other(String),
}

/// One event about an object of this instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineEvent {
    /// The tenant label of the object, when it has a valid one.
    pub tenant: Option<TenantName>,
    pub kind: EngineEventKind,
    /// Container or network id; the container's for the network events above.
    pub id: String,
}

/// One container's use as a cluster's metrics API reports it: a CPU rate averaged over the
/// metrics window (tens of seconds), not a counter, and the memory working set. A cluster's
/// metrics API says nothing of network traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUsage {
    /// The container's name in its pod.
    pub name: String,
    /// CPU in billionths of a core.
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

/// Resource counters of one container at one moment. CPU use is the difference between two
/// samples: `(cpu_total_ns delta) / (system_cpu_ns delta) × online_cpus × 100` percent of one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSample {
    /// Total CPU time used by the container, in nanoseconds.
    pub cpu_total_ns: u64,
    /// Total CPU time of the host, in nanoseconds (0 when the engine does not say).
    pub system_cpu_ns: u64,
    pub online_cpus: u32,
    /// Memory in use, without page cache where the engine says how much that is.
    pub memory_bytes: u64,
    /// The container's memory limit as the engine enforces it.
    pub memory_limit_bytes: u64,
    /// Bytes received over all the container's network interfaces since it started (`None`
    /// when the engine does not say).
    pub network_rx_bytes: Option<u64>,
    /// Bytes sent, like `network_rx_bytes`.
    pub network_tx_bytes: Option<u64>,
}

impl ResourceSample {
    /// CPU use between `prev` and this sample as `docker stats` shows it: percent of one core,
    /// so up to `online_cpus × 100`. `None` when the host's CPU time did not advance (the same
    /// sample twice, or an engine that does not report it).
    pub fn cpu_percent_since(&self, prev: &ResourceSample) -> Option<f64> {
        let cpu = self.cpu_total_ns.saturating_sub(prev.cpu_total_ns) as f64;
        let system = self.system_cpu_ns.checked_sub(prev.system_cpu_ns).filter(|d| *d > 0)? as f64;
        Some(cpu / system * f64::from(self.online_cpus.max(1)) * 100.0)
    }
}
