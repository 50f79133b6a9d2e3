//! A tenant's runtime pod as the containers status reports on: state, readiness, restarts and
//! the reason the cluster holds a container back (an image it cannot pull, a crash loop). Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

use crate::render::kubernetes::{Quantity, RUNTIME};
use crate::render::{ContainerRole, Limits};
use crate::runtime::model::{ContainerProblem, ContainerState, EngineHealth, ObservedContainer};

/// Waiting reasons that mean the image cannot be had.
const IMAGE_PULL: [&str; 5] =
    ["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"];
/// Waiting reasons that are part of a normal start.
const STARTING: [&str; 2] = ["ContainerCreating", "PodInitializing"];

/// The pod that speaks for the tenant: among those not being deleted, the newest.
pub(super) fn current(pods: &[Pod]) -> Option<&Pod> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .max_by(|a, b| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
}

/// The containers of `pod`, as status reports them, in the order of its spec.
pub(super) fn containers(pod: &Pod) -> Vec<ObservedContainer> {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let statuses: BTreeMap<&str, &ContainerStatus> =
        pod.status.iter().flat_map(|s| s.container_statuses.iter().flatten()).map(|s| (s.name.as_str(), s)).collect();
    let unschedulable = pod
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .map(|c| ContainerProblem::Other {
            reason: c.reason.clone().unwrap_or_else(|| "Unschedulable".into()),
            message: c.message.clone().unwrap_or_default(),
        });
    let specs = pod.spec.iter().flat_map(|s| s.containers.iter());
    specs.map(|spec| container(&pod_name, spec, statuses.get(spec.name.as_str()).copied(), &unschedulable)).collect()
}

fn container(
    pod: &str,
    spec: &Container,
    status: Option<&ContainerStatus>,
    unschedulable: &Option<ContainerProblem>,
) -> ObservedContainer {
    let role = if spec.name == RUNTIME { ContainerRole::Main } else { ContainerRole::Sidecar(spec.name.clone()) };
    let (state, problem) = match status {
        Some(s) => state_of(s),
        None => (ContainerState::Created, unschedulable.clone()),
    };
    let ready = status.is_some_and(|s| s.ready);
    let restarts = status.map(|s| i64::from(s.restart_count)).unwrap_or(0);
    let health = match (state, ready) {
        (ContainerState::Running, true) => EngineHealth::Healthy,
        (ContainerState::Running, false) if restarts > 0 => EngineHealth::Unhealthy,
        (ContainerState::Running, false) => EngineHealth::Starting,
        _ => EngineHealth::Unhealthy,
    };
    ObservedContainer {
        id: status
            .and_then(|s| s.container_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("{pod}/{}", spec.name)),
        name: spec.name.clone(),
        role,
        image_ref: spec.image.clone().unwrap_or_default(),
        image_id: status.map(|s| s.image_id.clone()).unwrap_or_default(),
        config_hash: None,
        field_hashes: BTreeMap::new(),
        spec_hash: None,
        applied: None,
        state,
        health,
        limits: limits(spec),
        host_port: None,
        restart_count: restarts,
        started_at: status
            .and_then(|s| s.state.as_ref()?.running.as_ref()?.started_at.as_ref())
            .map(|t| t.0.to_string()),
        networks: vec![],
        problem,
    }
}

fn state_of(s: &ContainerStatus) -> (ContainerState, Option<ContainerProblem>) {
    let state = s.state.as_ref();
    if state.and_then(|st| st.running.as_ref()).is_some() {
        return (ContainerState::Running, None);
    }
    if let Some(t) = state.and_then(|st| st.terminated.as_ref()) {
        let problem = (t.reason.as_deref() == Some("OOMKilled"))
            .then(|| ContainerProblem::Other { reason: "OOMKilled".into(), message: "it ran out of memory".into() });
        return (ContainerState::Exited { code: i64::from(t.exit_code) }, problem);
    }
    let Some(w) = state.and_then(|st| st.waiting.as_ref()) else { return (ContainerState::Created, None) };
    let reason = w.reason.clone().unwrap_or_default();
    let message = w.message.clone().unwrap_or_default();
    if reason == "CrashLoopBackOff" {
        let last = s.last_state.as_ref().and_then(|l| l.terminated.as_ref()).map(|t| {
            let why = t.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            format!("it exited with code {}{why}", t.exit_code)
        });
        let message = last.unwrap_or(message);
        return (ContainerState::Restarting, Some(ContainerProblem::CrashLoop { message }));
    }
    if IMAGE_PULL.contains(&reason.as_str()) {
        return (
            ContainerState::Created,
            Some(ContainerProblem::ImagePull { message: format!("{reason}: {message}") }),
        );
    }
    if STARTING.contains(&reason.as_str()) || reason.is_empty() {
        return (ContainerState::Created, None);
    }
    (ContainerState::Created, Some(ContainerProblem::Other { reason, message }))
}

/// The container's limits as the pod has them (no pids limit on a cluster: the kubelet sets it).
fn limits(spec: &Container) -> Limits {
    let limit = |name: &str| {
        spec.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref()?.get(name))
            .and_then(|q| Quantity::parse(&q.0))
            .map(|q| q.to_f64())
            .unwrap_or(0.0)
    };
    Limits { memory_bytes: limit("memory") as i64, nano_cpus: (limit("cpu") * 1e9) as i64, ..Limits::default() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "runtime-abc-12345", "creationTimestamp": "2026-11-30T10:00:00Z"},
            "spec": {"containers": [
                {"name": "runtime", "image": "img:1", "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}},
                {"name": "cache", "image": "img:1"}]},
            "status": {"containerStatuses": statuses}
        }))
        .unwrap()
    }

    fn status(name: &str, state: serde_json::Value, ready: bool, restarts: i32) -> serde_json::Value {
        json!({"name": name, "image": "img:1", "imageID": "sha256:1", "ready": ready, "restartCount": restarts,
               "state": state, "containerID": format!("containerd://{name}")})
    }

    #[test]
    fn a_ready_pod_is_running_and_healthy_with_its_limits() {
        let running = json!({"running": {"startedAt": "2026-11-30T10:00:01Z"}});
        let p = pod(json!([status("runtime", running.clone(), true, 0), status("cache", running, true, 1)]));
        let c = containers(&p);
        assert_eq!(c[0].role, ContainerRole::Main);
        assert_eq!((c[0].state, c[0].health, c[0].restart_count), (ContainerState::Running, EngineHealth::Healthy, 0));
        assert_eq!(c[0].limits, Limits { memory_bytes: 64 << 20, nano_cpus: 500_000_000, pids: 0 });
        assert_eq!(c[0].id, "containerd://runtime");
        assert_eq!(c[1].role, ContainerRole::Sidecar("cache".into()));
        assert_eq!(c[1].restart_count, 1);
    }

    #[test]
    fn held_back_containers_carry_the_clusters_reason() {
        let pull = json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"img:1\""}});
        let crash = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}});
        let mut s = status("cache", crash, false, 3);
        s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
        let c = containers(&pod(json!([status("runtime", pull, false, 0), s])));
        assert!(matches!(&c[0].problem, Some(ContainerProblem::ImagePull { message }) if message.contains("Back-off")));
        assert_eq!(c[1].state, ContainerState::Restarting);
        let crash_message = c[1].problem.as_ref().unwrap().to_string();
        assert_eq!(crash_message, "CrashLoopBackOff: it exited with code 1 (Error)");

        let creating = json!({"waiting": {"reason": "ContainerCreating"}});
        let c = containers(&pod(json!([status("runtime", creating, false, 0)])));
        assert_eq!((c[0].state, c[0].problem.is_none()), (ContainerState::Created, true));
        // A container without a status yet (the pod is not scheduled).
        assert_eq!(c[1].state, ContainerState::Created);
    }

    #[test]
    fn the_newest_pod_not_being_deleted_speaks_for_the_tenant() {
        let mut old = pod(json!([]));
        old.metadata.name = Some("old".into());
        let mut new = pod(json!([]));
        new.metadata.name = Some("new".into());
        new.metadata.creation_timestamp = serde_json::from_value(json!("2026-11-30T11:00:00Z")).unwrap();
        let mut going = new.clone();
        going.metadata.name = Some("going".into());
        going.metadata.deletion_timestamp = serde_json::from_value(json!("2026-11-30T12:00:00Z")).unwrap();
        let pods = [old, going, new];
        assert_eq!(current(&pods).unwrap().metadata.name.as_deref(), Some("new"));
    }
}
