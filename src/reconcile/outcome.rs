//! What one tenant's execution came to: the facts its status is derived from.

use crate::status::{ApplyFact, ProbeFact};

/// What happened to one tenant.
#[derive(Debug, Clone)]
pub struct TenantOutcome {
    pub fact: ApplyFact,
    pub probe: Option<ProbeFact>,
    /// Whether any step ran.
    pub mutated: bool,
    /// The engine went away mid-way: the outcome says nothing about the tenant itself.
    pub engine_unreachable: bool,
}

impl TenantOutcome {
    pub(super) fn new(fact: ApplyFact, probe: Option<ProbeFact>, mutated: bool) -> Self {
        Self { fact, probe, mutated, engine_unreachable: false }
    }
}
