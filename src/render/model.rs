//! The desired objects for one tenant, as a runtime should create them: the output of `render`
//! and the input of `plan`. No I/O happens here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::limits::Limits;
use crate::spec::{PullPolicy, TenantName};

/// What kind of container within a tenant this is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "name")]
pub enum ContainerRole {
    /// The tenant's main container: its OpenClaw gateway.
    Main,
    /// A sidecar, by its spec name.
    Sidecar(String),
    /// The tenant's ingress: it owns the published port and forwards to the main container
    /// (container engines only).
    Ingress,
}

impl ContainerRole {
    /// The value of the role label (`main` or `sidecar.<name>`).
    pub fn label(&self) -> String {
        match self {
            ContainerRole::Main => "main".to_string(),
            ContainerRole::Sidecar(n) => format!("sidecar.{n}"),
            ContainerRole::Ingress => "ingress".to_string(),
        }
    }

    pub fn from_label(s: &str) -> Option<Self> {
        if s == "main" {
            Some(ContainerRole::Main)
        } else if s == "ingress" {
            Some(ContainerRole::Ingress)
        } else {
            s.strip_prefix("sidecar.").map(|n| ContainerRole::Sidecar(n.to_string()))
        }
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "source")]
pub enum ImageSource {
    /// A registry or local image by reference.
    Registry { reference: String, pull_policy: PullPolicy },
    /// Built from a local directory; `tag` carries the start of `digest`, the context's digest
    /// (see `spec::ContextFiles::read`), so a changed context is a new tag. A build whose
    /// streamed context no longer has `digest` fails rather than give the tag other content.
    Build { context: PathBuf, dockerfile: String, tag: String, digest: String },
    /// tenantd's own ingress image, built by the engine adapter from the running program; `tag`
    /// names the version of the ingress code.
    Ingress { tag: String },
}

impl ImageSource {
    /// The reference a container is created from.
    pub fn reference(&self) -> &str {
        match self {
            ImageSource::Registry { reference, .. } => reference,
            ImageSource::Build { tag, .. } | ImageSource::Ingress { tag } => tag,
        }
    }
}

/// In which order a replacement swaps the old runtime for the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReplaceStrategy {
    /// The old one stops before the new one starts: never two at once on the same volumes, and
    /// a moment with neither.
    StopFirst,
    /// The new one starts and becomes ready while the old one still serves; the old one stops
    /// after that.
    StartFirst,
}

impl ReplaceStrategy {
    /// `stop first` / `start first`, as a plan says it.
    pub fn words(self) -> &'static str {
        match self {
            ReplaceStrategy::StopFirst => "stop first",
            ReplaceStrategy::StartFirst => "start first",
        }
    }
}

/// The engine's own healthcheck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Healthcheck {
    /// Exec-form command (without the leading `CMD`).
    pub command: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub retries: u32,
    /// The path tenantd's own probe asks for on the published port.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMountPlan {
    /// The engine's volume name (`<instance>-<tenant>-<volume>`).
    pub volume: String,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TmpfsPlan {
    pub target: String,
    pub size_bytes: u64,
}

/// The fields of a container whose change forces a replacement, each hashed on its own so a plan
/// can name what changed. Field names are stable: they appear in labels, plans and status files.
pub const REPLACE_FIELDS: &[&str] =
    &["image", "args", "env", "user", "ports", "mounts", "tmpfs", "network", "health", "labels"];

/// Replace-class fields that only some containers have; hashed only when present, so adding
/// one never changes the hashes of containers without it.
pub const OPTIONAL_REPLACE_FIELDS: &[&str] = &["binds"];

/// Suffix of the name an old container carries while its replacement proves itself.
pub const ASIDE_SUFFIX: &str = ".previous";

/// The name a container named `name` is set aside under while its replacement proves itself.
pub fn aside_name(name: &str) -> String {
    format!("{name}{ASIDE_SUFFIX}")
}

/// One container as it should exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredContainer {
    pub role: ContainerRole,
    /// The engine's container name (`<instance>-<tenant>` or `<instance>-<tenant>-<sidecar>`).
    pub name: String,
    /// DNS name on the tenant network (`runtime` or the sidecar's name).
    pub alias: String,
    pub image: ImageSource,
    pub args: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub user: String,
    /// Container port to publish on 127.0.0.1 (the host port is allocated by the planner).
    pub publish_port: Option<u16>,
    /// Container port served (health URL), published or not.
    pub port: Option<u16>,
    pub mounts: Vec<VolumeMountPlan>,
    /// Read-only bind mounts of the tenant's runtime files (main container only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<super::BindPlan>,
    pub tmpfs: Vec<TmpfsPlan>,
    pub health: Option<Healthcheck>,
    pub limits: Limits,
    /// Labels the user asked for (`tenantd.label.<key>`), besides tenantd's own.
    pub user_labels: BTreeMap<String, String>,
    /// Versioned hash of every replace-class field (`v1:<hex>`); equal hashes mean no replacement.
    pub config_hash: String,
    /// Per-field hashes of the replace-class fields, keyed by `REPLACE_FIELDS` names.
    pub field_hashes: BTreeMap<String, String>,
    /// Canonical JSON of the replace-class settings (`render::ContainerView`), stored on the
    /// container in the `io.tenantd.applied` label so a later plan can show a readable diff.
    pub applied: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredNetwork {
    /// `<instance>-<tenant>`.
    pub name: String,
    /// True when egress is denied.
    pub internal: bool,
}

/// A tenant as it should exist on a runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredTenant {
    pub name: TenantName,
    pub network: DesiredNetwork,
    /// Engine volume names, sorted.
    pub volumes: Vec<String>,
    /// Main container first, then sidecars by name.
    pub containers: Vec<DesiredContainer>,
    pub suspended: bool,
    /// Versioned hash of the whole desired state (`v1:<hex>`), as reported in status files.
    pub spec_hash: String,
    /// The generated config and secrets, when the spec has any. Never serialized.
    #[serde(skip)]
    pub files: Option<super::OpenClawFiles>,
    /// On a cluster runtime: the tenant's objects there, in apply order.
    #[serde(skip)]
    pub cluster: Option<Vec<super::kubernetes::DesiredObject>>,
    /// How a replacement of the main container goes.
    pub rollout: RolloutPlan,
    /// Where tenantd tells the tenant's ingress which container to forward to, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_dir: Option<PathBuf>,
}

/// How a replacement of the main container goes, from `spec.rollout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    pub strategy: ReplaceStrategy,
    /// How long the old runtime may finish its requests after the switch.
    pub drain_ms: u64,
}

impl DesiredTenant {
    pub fn main(&self) -> &DesiredContainer {
        &self.containers[0]
    }

    /// The tenant's ingress container, when it has one.
    pub fn ingress(&self) -> Option<&DesiredContainer> {
        self.containers.iter().find(|c| c.role == ContainerRole::Ingress)
    }

    /// The names this tenant may need on its runtime, which an object of another owner must
    /// not hold: on an engine its containers' names and the names they are set aside under
    /// while a replacement proves itself, its network's and its volumes'; on a cluster its
    /// namespace.
    pub fn wanted_names(&self) -> Vec<String> {
        match &self.cluster {
            Some(objects) => objects
                .iter()
                .filter(|o| o.kind == super::kubernetes::ObjectKind::Namespace)
                .map(|o| o.name.clone())
                .collect(),
            None => self
                .containers
                .iter()
                .flat_map(|c| [c.name.clone(), aside_name(&c.name)])
                .chain([self.network.name.clone()])
                .chain(self.volumes.iter().cloned())
                .collect(),
        }
    }

    /// The image references the runtime must make available (none on a cluster: its nodes pull).
    pub fn images(&self) -> Vec<String> {
        match &self.cluster {
            Some(_) => vec![],
            None => self.containers.iter().map(|c| c.image.reference().to_string()).collect(),
        }
    }
}
