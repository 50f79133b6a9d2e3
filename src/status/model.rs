//! The status of one tenant as written to `<state_dir>/status/<tenant>.json`. Never holds a
//! secret value.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::runtime::EngineInfo;

/// Where a tenant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Created or starting; not yet healthy.
    Pending,
    /// Running and healthy (or running with no healthcheck).
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
    pub tenant: String,
    pub phase: Phase,
    /// The spec file this status comes from.
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
