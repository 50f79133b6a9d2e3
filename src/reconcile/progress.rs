//! Typed events of an apply while it runs, for a caller that shows progress. Reconcile code
//! never prints: it hands these to whoever asked for them, and to nobody otherwise.

use std::sync::Arc;

use super::outcome::TenantOutcome;
use crate::plan::Step;
use crate::spec::TenantName;

/// What one tenant's execution is doing. Only tenants with steps to run (not blocked, not
/// unchanged) get events; each of them gets `Started` first and `Finished` last.
#[derive(Debug)]
pub enum ExecEvent<'a> {
    Started {
        tenant: &'a TenantName,
        steps: usize,
    },
    /// Step `index` (counted from 1) of `total` begins.
    Step {
        tenant: &'a TenantName,
        index: usize,
        total: usize,
        step: &'a Step,
    },
    /// A started runtime is awaited: its health check, or a cluster's rollout.
    WaitingHealthy {
        tenant: &'a TenantName,
    },
    Finished {
        tenant: &'a TenantName,
        outcome: &'a TenantOutcome,
    },
}

/// Where events go. Called from the tasks that run tenants, so it must be cheap and must not
/// block.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Fn(&ExecEvent<'_>) + Send + Sync>);

impl ProgressSink {
    pub fn new(f: impl Fn(&ExecEvent<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub(super) fn emit(&self, event: ExecEvent<'_>) {
        (self.0)(&event)
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}
