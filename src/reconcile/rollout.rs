//! Waiting for a cluster to roll a tenant's runtime out: its Deployment up to date and every
//! container of its pod running and ready, polled through the runtime until a deadline. A pod
//! the cluster holds back for good (an image it cannot pull, a crash loop) ends the wait at once
//! with the cluster's own reason.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::wait::health_budget;
use crate::plan::TenantPlan;
use crate::render::kubernetes::{ObjectKind, RUNTIME};
use crate::render::ContainerRole;
use crate::runtime::{ContainerProblem, ContainerState, EngineHealth, Runtime, RuntimeError};

/// Scheduling a pod and pulling its images come before the runtime's own start.
const MIN_BUDGET: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(500);

/// Why the wait ended without a ready runtime.
#[derive(Debug)]
pub enum NotReady {
    /// The cluster holds the pod back, or the deadline passed; `message` says what was seen.
    Problem {
        message: String,
        image_pull: bool,
    },
    Runtime(RuntimeError),
}

/// Where a Deployment's rollout stands, from its `metadata.generation`, `spec.replicas` and
/// `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Complete,
    /// Not yet: what is missing.
    Waiting(String),
}

/// Reads the rollout of a Deployment as the cluster holds it.
pub fn rollout_of(deployment: &Value) -> Rollout {
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    let generation = int(&deployment["metadata"]["generation"]);
    let wanted = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &deployment["status"];
    if int(&status["observedGeneration"]) < generation {
        return Rollout::Waiting("the Deployment controller has not seen the new spec yet".into());
    }
    let (updated, available, total) =
        (int(&status["updatedReplicas"]), int(&status["availableReplicas"]), int(&status["replicas"]));
    if updated < wanted || available < wanted || total > wanted {
        return Rollout::Waiting(format!(
            "{updated} of {wanted} pods updated, {available} available, {} old ones still there",
            (total - updated).max(0)
        ));
    }
    Rollout::Complete
}

/// Polls the tenant until its runtime is rolled out and ready, at most its health budget (and
/// at least two minutes), capped by `max`.
pub async fn wait(rt: &dyn Runtime, tp: &TenantPlan, max: Duration) -> Result<(), NotReady> {
    let health = tp.desired.as_ref().and_then(|d| d.main().health.as_ref());
    let budget = health_budget(health, Duration::MAX).max(MIN_BUDGET).min(max);
    let deadline = Instant::now() + budget;
    loop {
        let world = rt.observe_tenant(&tp.tenant, &[], &[]).await.map_err(NotReady::Runtime)?;
        let tenant = world.tenants.get(&tp.tenant);
        let containers = tenant.map(|t| t.containers.as_slice()).unwrap_or_default();
        for c in containers {
            match &c.problem {
                Some(p @ ContainerProblem::ImagePull { .. }) => {
                    return Err(NotReady::Problem { message: format!("container {}: {p}", c.name), image_pull: true })
                }
                Some(p @ ContainerProblem::CrashLoop { .. }) => {
                    return Err(NotReady::Problem { message: format!("container {}: {p}", c.name), image_pull: false })
                }
                Some(ContainerProblem::Other { .. }) | None => {}
            }
        }
        let rollout = match tenant.and_then(|t| t.object(ObjectKind::Deployment, RUNTIME)) {
            Some(d) => rollout_of(&d.live),
            None => Rollout::Waiting("the Deployment is missing".into()),
        };
        let last = match rollout {
            Rollout::Complete => match not_ready(containers) {
                None => return Ok(()),
                Some(why) => why,
            },
            Rollout::Waiting(why) => why,
        };
        if Instant::now() >= deadline {
            return Err(NotReady::Problem {
                message: format!("the runtime was not rolled out and ready within {} s ({last})", budget.as_secs()),
                image_pull: false,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Why the pod's containers are not all running and ready; `None` when they are.
fn not_ready(containers: &[crate::runtime::ObservedContainer]) -> Option<String> {
    if !containers.iter().any(|c| c.role == ContainerRole::Main) {
        return Some("no pod runs the runtime yet".into());
    }
    containers.iter().find_map(|c| match (c.state, c.health) {
        (ContainerState::Running, EngineHealth::Healthy | EngineHealth::None) => None,
        (ContainerState::Running, _) => Some(format!("container {} is not ready", c.name)),
        _ => Some(match &c.problem {
            Some(p) => format!("container {}: {p}", c.name),
            None => format!("container {} is not running", c.name),
        }),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_rollout_is_complete_once_the_new_generation_is_available() {
        let d = |observed: i64, updated: i64, available: i64, total: i64| {
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {
                "observedGeneration": observed, "updatedReplicas": updated,
                "availableReplicas": available, "replicas": total}})
        };
        assert_eq!(rollout_of(&d(2, 1, 1, 1)), Rollout::Complete);
        assert!(matches!(rollout_of(&d(1, 1, 1, 1)), Rollout::Waiting(w) if w.contains("not seen")));
        assert!(matches!(rollout_of(&d(2, 0, 0, 1)), Rollout::Waiting(w) if w.contains("0 of 1 pods updated")));
        assert!(matches!(rollout_of(&d(2, 1, 1, 2)), Rollout::Waiting(w) if w.contains("1 old ones")));
        // Scaled to zero (suspended): nothing to wait for once the controller has seen it.
        let zero = json!({"metadata": {"generation": 3}, "spec": {"replicas": 0}, "status": {"observedGeneration": 3}});
        assert_eq!(rollout_of(&zero), Rollout::Complete);
    }
}
