//! The facts a status is derived from: what the spec files say, how a pass went for the
//! tenant, tenantd's own probe, and what only the daemon knows.

use time::OffsetDateTime;

use super::model::Usage;
use crate::plan::Blocked;
use crate::runtime::{EngineInfo, ObservedTenant};

/// What the spec files say about a tenant.
#[derive(Debug, Clone)]
pub enum SpecFact {
    Valid {
        spec_hash: String,
        source: String,
        suspended: bool,
    },
    Invalid {
        messages: Vec<String>,
        source: Option<String>,
    },
    /// No file names the tenant.
    Absent,
}

/// How this pass went for the tenant.
#[derive(Debug, Clone)]
pub enum ApplyFact {
    /// Nothing needed doing (or `plan` only looked).
    NothingToDo,
    /// Every step succeeded.
    Applied,
    Blocked(Blocked),
    /// A step failed; the message never holds a secret.
    Failed {
        message: String,
        image_pull: bool,
    },
    /// A replacement never became healthy; the old container was restored.
    RolledBack {
        message: String,
    },
}

/// What the daemon knows beyond one pass: backoff, supervision and resource samples.
#[derive(Debug, Clone, Default)]
pub struct DaemonFacts {
    /// Set while the tenant waits out a backoff.
    pub backoff: Option<BackoffFact>,
    pub probe_latency_ms: Option<u64>,
    pub supervisor_restarts: u64,
    pub usage: Option<Usage>,
    /// Resource use has stayed high for more than one sample.
    pub pressure: Option<String>,
    /// The engine the daemon is connected to.
    pub engine: Option<EngineInfo>,
    /// The spec hash whose apply failed and is retried once its backoff ends: its failure
    /// stays in the status meanwhile (see [`super::settle`]).
    pub retrying: Option<String>,
    /// A worker is creating, replacing or restarting the main container right now: what was
    /// observed before no longer serves, and the tenant is on its way, not running.
    pub replacing: bool,
}

#[derive(Debug, Clone)]
pub struct BackoffFact {
    pub until: OffsetDateTime,
    /// True when the runtime keeps dying, not when an apply step keeps failing.
    pub crash_loop: bool,
}

/// The result of tenantd's own HTTP probe, when one was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFact {
    /// Answered 2xx.
    Healthy,
    /// Answered, but not 2xx (e.g. 503 while degraded).
    Degraded,
    /// No answer in time.
    Down,
}

pub struct Facts<'a> {
    pub tenant: &'a str,
    pub spec: SpecFact,
    pub observed: Option<&'a ObservedTenant>,
    pub apply: ApplyFact,
    pub probe: Option<ProbeFact>,
    pub daemon: DaemonFacts,
}
