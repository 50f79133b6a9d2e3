//! What a plan says: per tenant, the kind of change, the steps that make it, and why.

use std::sync::Arc;

use serde::Serialize;

use crate::ports::PortError;
use crate::render::kubernetes::{DesiredObject, ObjectKind};
pub use crate::render::ReplaceStrategy;
use crate::render::{DesiredContainer, DesiredNetwork, DesiredTenant, ImageSource, Limits};
use crate::runtime::ForeignObject;
use crate::spec::TenantName;

/// The kind of change a tenant gets, from least to most disruptive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    NoChange,
    /// Changed without recreating a container: limits updated in place, a stopped container started, …
    UpdateInPlace,
    Create,
    /// At least one container is recreated; `replace_fields` names why.
    Replace,
    /// The tenant has no spec: containers and network go, volumes stay.
    Delete,
    /// Nothing is done for this tenant; `blocked` says why.
    Blocked,
}

impl ChangeKind {
    pub fn is_change(self) -> bool {
        !matches!(self, ChangeKind::NoChange | ChangeKind::Blocked)
    }
}

/// Why a tenant is left exactly as it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "reason")]
pub enum Blocked {
    /// Its spec file is invalid: the last good state keeps running.
    Invalid { messages: Vec<String> },
    /// Objects of another owner hold names this tenant needs.
    Conflict { objects: Vec<ForeignObject> },
    /// No host port could be allocated.
    NoPort { message: String },
    /// Its spec is gone, but deletions are held back this pass.
    DeletionHeld { message: String },
    /// This desired state was tried, did not become healthy and was rolled back.
    RolledBack { message: String },
}

impl From<PortError> for Blocked {
    fn from(e: PortError) -> Self {
        Blocked::NoPort { message: e.to_string() }
    }
}

/// One call a runtime makes. Steps of a tenant run in order; image steps come first so a
/// failed pull or build leaves everything running untouched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "action")]
pub enum Step {
    EnsureImage {
        image: ImageSource,
    },
    CreateNetwork {
        network: DesiredNetwork,
    },
    RemoveNetwork {
        name: String,
    },
    CreateVolume {
        name: String,
    },
    /// Create a container and, unless the tenant is suspended, start it.
    CreateContainer {
        #[serde(skip)]
        container: Box<DesiredContainer>,
        name: String,
        image: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        host_port: Option<u16>,
        start: bool,
    },
    /// Replace a container without losing the working one. Stop first: stop it and set it
    /// aside under another name, create and start the new one, and keep it only once it is
    /// healthy; otherwise remove it and bring the old one back. Start first (a main container
    /// behind the tenant's ingress): set the old one aside still running, start the new one,
    /// and only once it is healthy point the ingress at it and let the old one drain and stop;
    /// otherwise remove the new one, the old one never having stopped.
    ReplaceContainer {
        old_id: String,
        /// The old container's name now (its own, or its set-aside name after an interrupted
        /// replacement).
        old_name: String,
        #[serde(skip)]
        container: Box<DesiredContainer>,
        name: String,
        image: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        host_port: Option<u16>,
        strategy: ReplaceStrategy,
    },
    RenameContainer {
        id: String,
        from: String,
        to: String,
    },
    /// Stop (gracefully) and remove a container; its volumes stay.
    RemoveContainer {
        id: String,
        name: String,
    },
    StartContainer {
        id: String,
        name: String,
    },
    StopContainer {
        id: String,
        name: String,
    },
    UpdateLimits {
        id: String,
        name: String,
        from: Limits,
        to: Limits,
    },
    /// Attach a container to its tenant's network again, answering to `aliases` there; it
    /// keeps running.
    ConnectNetwork {
        id: String,
        name: String,
        network: String,
        aliases: Vec<String>,
    },
    /// Detach a container from a network; it keeps running.
    DisconnectNetwork {
        id: String,
        name: String,
        network: String,
    },
    /// Write the tenant's runtime files (generated config, decrypted secrets) where its main
    /// container reads them. `files` names what changes (`openclaw.json`, `secret/<NAME>`),
    /// never a value.
    WriteFiles {
        files: Vec<String>,
    },
    /// Remove the tenant's runtime files, plaintext secrets included (its spec is gone).
    RemoveFiles,
    /// Send a signal to a running container: the runtime reloads its files.
    SignalContainer {
        id: String,
        name: String,
        signal: String,
    },
    /// Point the tenant's ingress at its main container, at `to` (`IP:port`): the ingress
    /// sends every new request there.
    RouteIngress {
        name: String,
        to: String,
    },
    /// Restart a running container so that it reads its files again.
    RestartContainer {
        id: String,
        name: String,
    },
    /// Server-side apply one of the tenant's objects on a cluster (field manager `tenantd`):
    /// created when missing; the fields tenantd sets are set as desired and taken back from
    /// whoever changed them; fields it no longer sets are dropped.
    ApplyObject {
        kind: ObjectKind,
        name: String,
        #[serde(skip)]
        object: Box<DesiredObject>,
    },
    /// Delete one of the tenant's objects on a cluster: exactly the object observed (its uid).
    DeleteObject {
        kind: ObjectKind,
        name: String,
        uid: String,
    },
}

/// A readable before/after of one container's settings (on a cluster: of one object, named
/// `<Kind>/<name>`, cut down to the fields tenantd sets).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDiff {
    pub container: String,
    /// YAML of the settings the running container was created with (empty when it is new).
    pub before: String,
    /// YAML of the desired settings (empty when it goes away).
    pub after: String,
}

/// The plan for one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPlan {
    pub tenant: TenantName,
    pub change: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Blocked>,
    /// The fields that force a replacement, sorted (`image`, `env`, `hostPort`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replace_fields: Vec<String>,
    /// In which order a replacement swaps the runtime (replacements only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ReplaceStrategy>,
    /// One line per change, for humans.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<ContainerDiff>,
    /// The host port the tenant's runtime is published on after this plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// The desired state this plan converges to (none for deletions and invalid specs).
    #[serde(skip)]
    pub desired: Option<Arc<DesiredTenant>>,
}

impl TenantPlan {
    /// A plan for `tenant` that does nothing (yet): no steps, reasons or diffs.
    pub(super) fn stepless(tenant: &TenantName, change: ChangeKind, blocked: Option<Blocked>) -> TenantPlan {
        TenantPlan {
            tenant: tenant.clone(),
            change,
            blocked,
            replace_fields: vec![],
            strategy: None,
            reasons: vec![],
            steps: vec![],
            diffs: vec![],
            host_port: None,
            desired: None,
        }
    }
}

/// The whole plan: every tenant known from specs or the runtime, sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub tenants: Vec<TenantPlan>,
    /// Set when deletions of tenants without a spec are held back this pass, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletions_held: Option<String>,
}

impl TenantPlan {
    /// Whether running this plan takes the tenant's main container out of service for a while:
    /// it is created, replaced stop first, stopped or restarted. What serves the tenant then is not what
    /// was observed before the plan ran.
    pub fn takes_main_down(&self) -> bool {
        let Some(main) = self.desired.as_ref().map(|d| d.main().name.as_str()) else { return false };
        self.steps.iter().any(|s| match s {
            // Start first: the old one serves until the new one is healthy and serves.
            Step::ReplaceContainer { strategy: ReplaceStrategy::StartFirst, .. } => false,
            Step::CreateContainer { name, .. }
            | Step::ReplaceContainer { name, .. }
            | Step::StopContainer { name, .. }
            | Step::RestartContainer { name, .. } => name == main,
            _ => false,
        })
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.tenants.iter().any(|t| t.change.is_change())
    }

    /// True when some tenant cannot be converged: an invalid spec, a conflict, no host port.
    /// Held-back deletions are not errors.
    pub fn has_blocked_tenants(&self) -> bool {
        self.tenants.iter().any(|t| t.blocked.as_ref().is_some_and(|b| !matches!(b, Blocked::DeletionHeld { .. })))
    }

    pub fn count(&self, kind: ChangeKind) -> usize {
        self.tenants.iter().filter(|t| t.change == kind).count()
    }

    pub fn tenant(&self, name: &str) -> Option<&TenantPlan> {
        self.tenants.iter().find(|t| t.tenant.as_str() == name)
    }
}
