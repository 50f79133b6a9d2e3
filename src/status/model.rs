//! The status of one tenant as written to `<state_dir>/status/<tenant>.json`. Never holds a
//! secret value.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::runtime::EngineInfo;

/// The format of the status files this version writes (`formatVersion`). Fields are only ever
/// added within a format version; a field whose meaning changes takes a new one. Files written
/// before the field existed read as version 0 and are rewritten as this version on the next
/// pass.
pub const STATUS_FORMAT_VERSION: u32 = 1;

/// Where a tenant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Created or starting; not yet healthy.
    Pending,
    /// Running and healthy, running with no healthcheck, or running where tenantd cannot probe
    /// it from the host (no published port: `health` is then the engine's own verdict).
    Running,
    /// Running but unhealthy, or a sidecar is down.
    Degraded,
    /// The last apply failed for this tenant.
    Failed,
    /// Its spec file is invalid; whatever ran keeps running as it was.
    Invalid,
    /// `suspend: true`: stopped, everything kept.
    Suspended,
    /// Its spec is gone and its containers and network were removed (volumes kept).
    Removed,
    /// The image could not be pulled; the running container (if any) is untouched.
    ImagePullBackOff,
    /// Objects of another owner hold its names.
    Conflict,
    /// A replacement did not become healthy and the previous container was restored; the same
    /// spec is not tried again until it changes.
    RolledBack,
    /// The runtime keeps failing; tenantd waits before the next try (`nextRetryTime`).
    CrashLoopBackOff,
}

impl Phase {
    /// Every phase, in declaration order.
    pub const ALL: [Phase; 11] = [
        Phase::Pending,
        Phase::Running,
        Phase::Degraded,
        Phase::Failed,
        Phase::Invalid,
        Phase::Suspended,
        Phase::Removed,
        Phase::ImagePullBackOff,
        Phase::Conflict,
        Phase::RolledBack,
        Phase::CrashLoopBackOff,
    ];

    /// The name as status files, logs and metrics spell it (`Running`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Degraded => "Degraded",
            Phase::Failed => "Failed",
            Phase::Invalid => "Invalid",
            Phase::Suspended => "Suspended",
            Phase::Removed => "Removed",
            Phase::ImagePullBackOff => "ImagePullBackOff",
            Phase::Conflict => "Conflict",
            Phase::RolledBack => "RolledBack",
            Phase::CrashLoopBackOff => "CrashLoopBackOff",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a condition is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConditionType {
    /// The spec file is valid.
    SpecValid,
    /// The runtime matches the spec.
    Converged,
    /// The runtime answers its health check.
    Healthy,
    /// Memory stays above 90 % of its limit, or CPU above 95 % of its quota.
    ResourcePressure,
    /// kstatus: the tenant is what its spec asks for (running and healthy, or suspended) and
    /// nothing stands in the way.
    Ready,
    /// kstatus (abnormal-true): the tenant is on its way to what its spec asks for and needs no
    /// one to act (starting, or unhealthy while tenantd keeps watching it).
    Reconciling,
    /// kstatus (abnormal-true): the tenant cannot get to what its spec asks for without
    /// someone acting (invalid spec, failed apply, image pull, crash loop, conflict, rollback,
    /// held deletion).
    Stalled,
}

/// A condition in the Kubernetes style: `lastTransitionTime` changes only when `status` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: ConditionType,
    pub status: bool,
    pub reason: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_transition_time: OffsetDateTime,
}

/// The health of a tenant's runtime as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Health {
    Unknown,
    Starting,
    Healthy,
    Unhealthy,
    /// Not running.
    Down,
}

/// The whole status file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// [`STATUS_FORMAT_VERSION`] for files this version writes; 0 for older files.
    #[serde(default)]
    pub format_version: u32,
    pub tenant: String,
    pub phase: Phase,
    /// Counts the spec's changes: 1 for the first valid spec, one more for each new `specHash`.
    /// Kept across passes and restarts (it lives in this file); 0 while no valid spec was seen.
    #[serde(default)]
    pub generation: u64,
    /// The generation this status (phase and conditions) was derived from, as kstatus reads
    /// it: a reader trusts the conditions only when it equals `generation`. tenantd writes a
    /// status only once a pass has dealt with the spec, so the two are equal in every file it
    /// writes.
    #[serde(default)]
    pub observed_generation: u64,
    /// When this status last changed (a status that would not differ is not rewritten, so this
    /// is also when the file was last written). `tenantd status` shows its age.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub last_update_time: Option<OffsetDateTime>,
    /// The spec file this status comes from: an absolute, normalised path (its name in the
    /// canonical tenants directory). Output only: nothing reads it back to decide anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Hash of the desired state from the spec file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_hash: Option<String>,
    /// Hash of the desired state tenantd last converged the runtime to successfully.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_hash: Option<String>,
    /// Hash of the desired state the runtime is seen to run (equal to `specHash` when converged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_hash: Option<String>,
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub health: Health,
    pub restart_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub last_applied_time: Option<OffsetDateTime>,
    /// Latency of tenantd's last own health probe, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_latency_ms: Option<u64>,
    /// When tenantd tries this tenant again after failures (exponential backoff).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub next_retry_time: Option<OffsetDateTime>,
    /// Restarts tenantd itself made because the runtime stayed down (the engine's own restarts
    /// are in `restartCount`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub supervisor_restarts: u64,
    /// The desired state whose replacement was rolled back, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<RolledBackStatus>,
    /// CPU and memory use at the last sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The engine the daemon runs this tenant on (Docker or Podman, its version and endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineInfo>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledBackStatus {
    pub spec_hash: String,
    pub reason: String,
}

/// Resource use of the main container.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Percent of the CPU quota (100 = the whole `cpus` limit).
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
}
