//! One tenant's reconcile, run as its own task so a slow or failing tenant never delays the
//! others: execute its plan, look at it again, probe it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Semaphore};

use crate::plan::{ChangeKind, TenantPlan};
use crate::reconcile::{execute_tenant, probe_running, ExecContext, TenantOutcome};
use crate::runtime::{ObservedTenant, Runtime};
use crate::spec::TenantName;
use crate::status::{ApplyFact, ProbeFact};

/// What a finished worker reports.
#[derive(Debug)]
pub struct WorkerDone {
    pub tenant: TenantName,
    pub outcome: TenantOutcome,
    /// The tenant as observed right after; `None` when it has no objects, `Err` when the
    /// observation failed (the status then keeps what it had).
    pub after: Result<Option<ObservedTenant>, String>,
    pub probe: Option<ProbeFact>,
    pub spec_hash: Option<String>,
    /// What the plan set out to do, and its reasons, one line each.
    pub change: ChangeKind,
    pub reasons: Vec<String>,
    pub duration: std::time::Duration,
    /// False when the daemon began stopping before this worker got its turn: nothing was done
    /// and nothing is to be recorded.
    pub started: bool,
}

/// Spawns the reconcile of one tenant; at most as many run at once as `permits` allows.
pub fn spawn(
    runtime: Arc<dyn Runtime>,
    permits: Arc<Semaphore>,
    plan: TenantPlan,
    ctx: ExecContext,
    done: mpsc::UnboundedSender<WorkerDone>,
    stopping: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(_permit) = permits.acquire_owned().await else { return };
        if stopping.load(Ordering::SeqCst) {
            // Queued work does not start once the daemon is stopping.
            let outcome =
                TenantOutcome { fact: ApplyFact::NothingToDo, probe: None, mutated: false, engine_unreachable: false };
            let _ = done.send(WorkerDone {
                tenant: plan.tenant.clone(),
                outcome,
                after: Err("not started".into()),
                probe: None,
                spec_hash: None,
                change: plan.change,
                reasons: Vec::new(),
                duration: std::time::Duration::ZERO,
                started: false,
            });
            return;
        }
        let started = Instant::now();
        let outcome = execute_tenant(runtime.as_ref(), &plan, &ctx).await;
        let images: Vec<String> = Vec::new();
        let after = runtime
            .observe_tenant(&plan.tenant, &images, &[])
            .await
            .map(|mut w| w.tenants.remove(&plan.tenant))
            .map_err(|e| e.to_string());
        let probe = match (&after, &plan.desired) {
            (Ok(Some(t)), Some(d)) if outcome.probe.is_none() => {
                let world = crate::runtime::ObservedWorld {
                    tenants: [(t.name.clone(), t.clone())].into(),
                    ..Default::default()
                };
                let desired = [(d.name.clone(), d.clone())].into();
                probe_running(&desired, &world).await.remove(&plan.tenant)
            }
            _ => outcome.probe,
        };
        let _ = done.send(WorkerDone {
            tenant: plan.tenant.clone(),
            spec_hash: plan.desired.as_ref().map(|d| d.spec_hash.clone()),
            change: plan.change,
            reasons: plan.reasons.clone(),
            outcome,
            after,
            probe,
            duration: started.elapsed(),
            started: true,
        });
    })
}
