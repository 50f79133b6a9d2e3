//! The tenant spec as typed Rust values: the one place its shape is defined.
//! `schemas/tenant.schema.json` is generated from these types (`tenantd schema`), and a test
//! proves the published file and the types agree.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names::{ByteSize, SidecarName, SpecDuration, TenantName, VolumeName};
use super::openclaw_config::{OpenClawConfig, ReloadPolicy, SecretEntry, SecretName, AGE_ARMOR_EXAMPLE};
use super::rollout::Rollout;

/// The only API version this build understands.
pub const API_VERSION: &str = "tenantd/v1";

/// One tenant: the whole content of one file in `tenants.d/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    title = "tenantd Tenant",
    description = "One tenant of tenantd: an isolated agent runtime (a gateway container with optional sidecars) on its own private network."
)]
pub struct TenantFile {
    /// Always `tenantd/v1`.
    #[schemars(extend("examples" = ["tenantd/v1"]))]
    pub api_version: ApiVersion,
    /// Always `Tenant`.
    #[schemars(extend("examples" = ["Tenant"]))]
    pub kind: Kind,
    /// Who the tenant is: its name and labels.
    #[schemars(extend("examples" = [{"name": "acme", "labels": {"team": "core"}}]))]
    pub metadata: Metadata,
    /// What the tenant runs and how: image, resources, health, storage, network, sidecars and
    /// runtime configuration.
    #[schemars(extend("examples" = [{"image": "registry.example/openclaw:2026.11", "resources": {"memory": "1Gi"}}]))]
    pub spec: TenantSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    #[serde(rename = "tenantd/v1")]
    V1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    Tenant,
}

/// Who the tenant is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// The tenant's name: unique across `tenants.d/`, part of every object name tenantd creates for it.
    #[schemars(extend("examples" = ["acme", "team-blue"]))]
    pub name: TenantName,
    /// Free-form labels, copied onto the tenant's containers as `tenantd.label.<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": "^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"}))]
    #[schemars(extend("examples" = [{"plan": "pro", "team": "core"}]))]
    pub labels: BTreeMap<String, String>,
}

/// Where a container's image comes from: exactly one of `image` or `build`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuildSpec {
    /// A directory holding a Dockerfile, relative to the spec file's directory (or absolute).
    #[schemars(length(min = 1, max = 4096))]
    #[schemars(extend("examples" = ["./runtime", "../examples/stub-runtime"]))]
    pub context: String,
    /// The Dockerfile's path inside the context.
    #[serde(default = "default_dockerfile")]
    #[schemars(length(min = 1, max = 4096))]
    #[schemars(extend("examples" = ["Dockerfile", "Dockerfile.prod"]))]
    pub dockerfile: String,
}

fn default_dockerfile() -> String {
    "Dockerfile".to_string()
}

/// When an `image` is pulled from its registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Pull only when the image is not present locally.
    #[default]
    IfNotPresent,
    /// Pull before every container is created; a changed image replaces the container.
    Always,
    /// Never pull; the image must already be present.
    Never,
}

/// Memory, CPU and process limits; always applied, changed in place without a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    /// Memory limit (no swap beyond it). At least 8Mi.
    #[serde(default = "default_memory")]
    #[schemars(extend("examples" = ["512Mi", "1Gi"]))]
    pub memory: ByteSize,
    /// CPU limit in cores.
    #[serde(default = "default_cpus")]
    #[schemars(range(min = 0.01, max = 256.0))]
    #[schemars(extend("examples" = [0.5, 2]))]
    pub cpus: f64,
    /// Maximum number of processes and threads.
    #[serde(default = "default_pids")]
    #[schemars(range(min = 8, max = 65536))]
    #[schemars(extend("examples" = [256, 1024]))]
    pub pids: u32,
}

fn default_memory() -> ByteSize {
    ByteSize::from_bytes(512 << 20)
}
fn default_cpus() -> f64 {
    0.5
}
fn default_pids() -> u32 {
    256
}

impl Default for Resources {
    fn default() -> Self {
        Self { memory: default_memory(), cpus: default_cpus(), pids: default_pids() }
    }
}

/// How the runtime's health is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Health {
    /// HTTP path answered with 2xx when healthy.
    #[serde(default = "default_health_path")]
    #[schemars(regex(pattern = r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$"), length(max = 1024))]
    #[schemars(extend("examples" = ["/health", "/healthz"]))]
    pub path: String,
    /// How often the health URL is probed.
    #[serde(default = "default_interval")]
    #[schemars(extend("examples" = ["30s", "10s"]))]
    pub interval: SpecDuration,
    /// How long one probe may take.
    #[serde(default = "default_timeout")]
    #[schemars(extend("examples" = ["5s", "500ms"]))]
    pub timeout: SpecDuration,
    /// Consecutive failures before the container counts as unhealthy.
    #[serde(default = "default_retries")]
    #[schemars(range(min = 1, max = 100))]
    #[schemars(extend("examples" = [3, 5]))]
    pub retries: u32,
    /// Grace period after start in which failures do not count.
    #[serde(default = "default_start_period")]
    #[schemars(extend("examples" = ["20s", "1m"]))]
    pub start_period: SpecDuration,
    /// The command the engine runs inside the container for its own healthcheck, with the
    /// health URL (`http://127.0.0.1:<port><path>`) appended as the last argument; exit 0 is
    /// healthy. The default suits images with a busybox or GNU `wget`.
    #[serde(default = "default_probe_command")]
    #[schemars(length(min = 1, max = 32))]
    #[schemars(extend("examples" = [["wget", "-q", "-O", "/dev/null"], ["curl", "-fsS", "-o", "/dev/null"]]))]
    pub probe_command: Vec<String>,
}

fn default_health_path() -> String {
    "/health".to_string()
}
fn default_interval() -> SpecDuration {
    SpecDuration::from_secs(30)
}
fn default_timeout() -> SpecDuration {
    SpecDuration::from_secs(5)
}
fn default_retries() -> u32 {
    3
}
fn default_start_period() -> SpecDuration {
    SpecDuration::from_secs(20)
}
fn default_probe_command() -> Vec<String> {
    vec!["wget".into(), "-q".into(), "-O".into(), "/dev/null".into()]
}

impl Default for Health {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            interval: default_interval(),
            timeout: default_timeout(),
            retries: default_retries(),
            start_period: default_start_period(),
            probe_command: default_probe_command(),
        }
    }
}

/// A named volume of the tenant, mounted into a container. Volumes outlive the tenant's containers:
/// deleting a tenant keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeMount {
    /// The volume's name: a DNS label, unique within the tenant. The same name in two containers
    /// mounts the same volume.
    #[schemars(extend("examples" = ["workspace", "data"]))]
    pub name: VolumeName,
    /// Absolute path inside the container.
    #[schemars(regex(pattern = r"^/[A-Za-z0-9._/-]*$"), length(max = 1024))]
    #[schemars(extend("examples" = ["/home/node/.openclaw/workspaces", "/data"]))]
    pub mount_path: String,
    /// Mount the volume read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(extend("examples" = [true]))]
    pub read_only: bool,
}

/// Extra writable scratch space in memory (the root filesystem is read-only; `/tmp` is always provided).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TmpfsMount {
    /// Absolute path inside the container.
    #[schemars(regex(pattern = r"^/[A-Za-z0-9._/-]*$"), length(max = 1024))]
    #[schemars(extend("examples" = ["/home/node/.cache", "/scratch"]))]
    pub mount_path: String,
    /// The most the tmpfs may hold. Default 64Mi.
    #[serde(default = "default_tmpfs_size")]
    #[schemars(extend("examples" = ["64Mi", "256Mi"]))]
    pub size: ByteSize,
}

fn default_tmpfs_size() -> ByteSize {
    ByteSize::from_bytes(64 << 20)
}

/// Whether the tenant's network reaches beyond the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Egress {
    /// A private bridge network with outbound access; the runtime port is published on 127.0.0.1.
    #[default]
    Allow,
    /// An internal network: no outbound access, no published port; reachable only from the host
    /// and from whatever the operator attaches to the tenant's network (the control plane).
    Deny,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkSpec {
    /// `allow` (the default): outbound access, the runtime port published on 127.0.0.1; `deny`: an
    /// internal network with no outbound access and no published port.
    #[serde(default)]
    #[schemars(extend("examples" = ["allow", "deny"]))]
    pub egress: Egress,
}

/// An environment variable name.
pub const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";

/// A container's user as `uid` or `uid:gid`; never root.
pub const USER_PATTERN: &str = "^[1-9][0-9]{0,9}(:[1-9][0-9]{0,9})?$";

/// An extra container on the tenant's private network, reachable from the runtime by its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// Each branch also types its field: serde reads `image: null` as no image, so must the schema.
#[schemars(extend("oneOf" = [
    {"required": ["image"], "properties": {"image": {"type": "string", "examples": ["postgres:16"]}}},
    {"required": ["build"], "properties": {"build": {"type": "object", "examples": [{"context": "./tools"}]}}}
]))]
#[schemars(extend("dependentRequired" = {"health": ["port"]}))]
pub struct SidecarSpec {
    /// The sidecar's name: a DNS label, unique within the tenant; the runtime reaches the sidecar
    /// by it on the tenant's network.
    #[schemars(extend("examples" = ["cache", "db"]))]
    pub name: SidecarName,
    /// A registry or local image reference for the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[schemars(extend("examples" = ["postgres:16", "redis:7-alpine"]))]
    pub image: Option<String>,
    /// Build the sidecar's image from a local context instead of naming one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"context": "./tools"}]))]
    pub build: Option<BuildSpec>,
    /// When the sidecar's `image` is pulled: `IfNotPresent` (the default), `Always` or `Never`.
    #[serde(default)]
    #[schemars(extend("examples" = ["IfNotPresent", "Always"]))]
    pub pull_policy: PullPolicy,
    /// Arguments given to the image's entrypoint (replaces the image's CMD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [["--maxmemory", "64mb"]]))]
    pub args: Option<Vec<String>>,
    /// Environment variables of the sidecar, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": ENV_NAME_PATTERN}))]
    #[schemars(extend("examples" = [{"POSTGRES_DB": "app"}]))]
    pub env: BTreeMap<String, String>,
    /// Memory, CPU and process limits of the sidecar.
    #[serde(default)]
    #[schemars(extend("examples" = [{"memory": "256Mi"}]))]
    pub resources: Resources,
    /// Named volumes of the tenant mounted into the sidecar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("examples" = [[{"name": "data", "mountPath": "/var/lib/postgresql/data"}]]))]
    pub volumes: Vec<VolumeMount>,
    /// In-memory scratch directories of the sidecar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("examples" = [[{"mountPath": "/tmp/cache"}]]))]
    pub tmpfs: Vec<TmpfsMount>,
    /// Runs as this user (`uid` or `uid:gid`, never 0). Default `10001:10001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = USER_PATTERN))]
    #[schemars(extend("examples" = ["70:70", "10001:10001"]))]
    pub user: Option<String>,
    /// The port the sidecar serves on the tenant's network (never published on the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    #[schemars(extend("examples" = [8080, 5432]))]
    pub port: Option<u16>,
    /// How the sidecar's health is checked, on `port`; a sidecar without it is supervised by its
    /// running state only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"path": "/health"}]))]
    pub health: Option<Health>,
}

/// What the tenant runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// Each branch also types its field: serde reads `image: null` as no image, so must the schema.
#[schemars(extend("oneOf" = [
    {"required": ["image"], "properties": {"image": {"type": "string", "examples": ["registry.example/openclaw:2026.11"]}}},
    {"required": ["build"], "properties": {"build": {"type": "object", "examples": [{"context": "../examples/stub-runtime"}]}}}
]))]
pub struct TenantSpec {
    /// A registry or local image reference for the runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[schemars(extend("examples" = ["registry.example/openclaw:2026.11", "tenantd-stub:test"]))]
    pub image: Option<String>,
    /// Build the runtime image from a local context instead of naming one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"context": "../examples/stub-runtime"}]))]
    pub build: Option<BuildSpec>,
    /// When the runtime's `image` is pulled: `IfNotPresent` (the default), `Always` or `Never`.
    #[serde(default)]
    #[schemars(extend("examples" = ["IfNotPresent", "Always"]))]
    pub pull_policy: PullPolicy,
    /// Arguments given to the image's entrypoint (replaces the image's CMD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [["serve", "--verbose"]]))]
    pub args: Option<Vec<String>>,
    /// The container port the runtime serves (and is health-checked on).
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    #[schemars(extend("examples" = [18789, 8080]))]
    pub port: u16,
    /// Environment variables of the runtime container, by name. Never a secret: those go in
    /// `secrets`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": ENV_NAME_PATTERN}))]
    #[schemars(extend("examples" = [{"LOG_LEVEL": "info"}]))]
    pub env: BTreeMap<String, String>,
    /// Memory, CPU and process limits of the runtime container.
    #[serde(default)]
    #[schemars(extend("examples" = [{"memory": "1Gi", "cpus": 1, "pids": 256}]))]
    pub resources: Resources,
    /// How the runtime's health is checked, over HTTP on `port`.
    #[serde(default)]
    #[schemars(extend("examples" = [{"path": "/health", "interval": "30s"}]))]
    pub health: Health,
    /// Named volumes mounted into the runtime container; they outlive its containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("examples" = [[{"name": "workspace", "mountPath": "/home/node/.openclaw/workspaces"}]]))]
    pub volumes: Vec<VolumeMount>,
    /// In-memory scratch directories of the runtime container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("examples" = [[{"mountPath": "/home/node/.cache", "size": "64Mi"}]]))]
    pub tmpfs: Vec<TmpfsMount>,
    /// The tenant's private network.
    #[serde(default)]
    #[schemars(extend("examples" = [{"egress": "deny"}]))]
    pub network: NetworkSpec,
    /// Extra containers on the tenant's private network, each reachable from the runtime by its
    /// name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("examples" = [[{"name": "cache", "image": "redis:7-alpine", "port": 6379}]]))]
    pub sidecars: Vec<SidecarSpec>,
    /// Runs as this user (`uid` or `uid:gid`, never 0). Default `10001:10001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = USER_PATTERN))]
    #[schemars(extend("examples" = ["10001:10001", "1000"]))]
    pub user: Option<String>,
    /// `true` stops the tenant's containers and keeps everything else.
    #[serde(default)]
    #[schemars(extend("examples" = [false, true]))]
    pub suspend: bool,
    /// The runtime's configuration, from which tenantd generates its `openclaw.json` (with
    /// tenantd's security defaults always applied). Without it, the runtime's image supplies its
    /// own configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Not nullable in the schema: `runtimeConfig: null` says nothing, and a nullable branch would
    // hide what is wrong inside the section behind "expected a mapping or null".
    #[schemars(with = "OpenClawConfig")]
    #[schemars(extend("examples" = [{
        "gatewayToken": {"secret": "GATEWAY_TOKEN"},
        "agents": [{"name": "support", "model": {"tier": "sonnet", "temperature": 0.3}}]
    }]))]
    #[serde(rename = "runtimeConfig")]
    pub openclaw_config: Option<OpenClawConfig>,
    /// The tenant's secrets by name, each age-encrypted. `runtimeConfig` refers to them by name
    /// (`{secret: <name>}`); the runtime reads each from `/run/secrets/openclaw/<name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = {"minLength": 1, "maxLength": 64}))]
    // Nothing written here is ever shown back, even plaintext put here by mistake.
    #[schemars(extend("writeOnly" = true))]
    #[schemars(extend("examples" = [{"GATEWAY_TOKEN": {"value": AGE_ARMOR_EXAMPLE}}]))]
    pub secrets: BTreeMap<SecretName, SecretEntry>,
    /// How a change to the generated runtime config or to a secret reaches the running tenant.
    #[serde(default, skip_serializing_if = "ReloadPolicy::is_default")]
    #[schemars(extend("examples" = ["signal", "restart"]))]
    pub reload: ReloadPolicy,
    /// How a replacement swaps the running runtime for a new one: start the new one first
    /// (the default) or stop the old one first.
    #[serde(default, skip_serializing_if = "Rollout::is_default")]
    #[schemars(extend("examples" = [{"strategy": "stopFirst"}, {"drainTimeout": "10s"}]))]
    pub rollout: Rollout,
}

fn default_port() -> u16 {
    18789
}
