//! Simulated kubelet: the status a Pod reaches on a node, from the per-image outcome of its
//! containers. Pure functions; `controllers` decides when they run and writes the result.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::PodOutcome;

/// The status of `pod` once started on the fake node. `ip` is its pod IP.
pub(crate) fn pod_status(pod: &Value, outcomes: &HashMap<String, PodOutcome>, ip: &str, now: &str) -> Value {
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    let pod_ref = format!(
        "{}_{}({})",
        pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default(),
        pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default(),
        pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default(),
    );
    let mut statuses = Vec::new();
    let mut unready = Vec::new();
    let mut pulling_failed = false;
    for c in &containers {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
        let outcome = outcomes.get(image).copied().unwrap_or(PodOutcome::Ready);
        let (status, ready) = container_status(name, image, outcome, &pod_ref, now);
        if !ready {
            unready.push(name.to_string());
        }
        pulling_failed |= outcome == PodOutcome::ImagePullBackOff;
        statuses.push(status);
    }
    let ready = unready.is_empty();
    let condition = |kind: &str, ok: bool| {
        let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now});
        if !ok {
            c["reason"] = json!("ContainersNotReady");
            c["message"] = json!(format!("containers with unready status: [{}]", unready.join(" ")));
        }
        c
    };
    json!({
        "phase": if pulling_failed { "Pending" } else { "Running" },
        "conditions": [
            condition("PodReadyToStartContainers", true),
            condition("Initialized", true),
            condition("Ready", ready),
            condition("ContainersReady", ready),
            condition("PodScheduled", true),
        ],
        "hostIP": "10.0.0.10",
        "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "containerStatuses": statuses,
        "qosClass": qos_class(&containers),
    })
}

/// One container's status and whether it is ready.
fn container_status(name: &str, image: &str, outcome: PodOutcome, pod_ref: &str, now: &str) -> (Value, bool) {
    let digest = format!("{:016x}", fnv1a(image.as_bytes())).repeat(4);
    let container_id =
        format!("containerd://{}", format!("{:016x}", fnv1a(format!("{pod_ref}/{name}").as_bytes())).repeat(4));
    let image_id = format!("{}@sha256:{digest}", image.split(['@', ':']).next().unwrap_or(image));
    let running = json!({"running": {"startedAt": now}});
    let mut status = json!({
        "name": name,
        "image": image,
        "imageID": image_id,
        "containerID": container_id,
        "ready": false,
        "started": true,
        "restartCount": 0,
        "state": running,
        "lastState": {},
    });
    match outcome {
        PodOutcome::Ready => {
            status["ready"] = json!(true);
        }
        PodOutcome::NotReady => {}
        PodOutcome::CrashLoopBackOff => {
            status["started"] = json!(false);
            status["restartCount"] = json!(3);
            status["state"] = json!({"waiting": {
                "reason": "CrashLoopBackOff",
                "message": format!("back-off 40s restarting failed container={name} pod={pod_ref}"),
            }});
            status["lastState"] = json!({"terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": now,
                "finishedAt": now,
                "containerID": status["containerID"].clone(),
            }});
        }
        PodOutcome::ImagePullBackOff => {
            let map = status.as_object_mut().expect("built as a map");
            map.remove("containerID");
            map.insert("imageID".into(), json!(""));
            map.insert("started".into(), json!(false));
            map.insert(
                "state".into(),
                json!({"waiting": {
                    "reason": "ImagePullBackOff",
                    "message": format!(
                        "Back-off pulling image \"{image}\": ErrImagePull: failed to pull and unpack image \
                         \"{image}\": not found"
                    ),
                }}),
            );
        }
    }
    (status, outcome == PodOutcome::Ready)
}

/// Guaranteed when every container's requests equal its limits for cpu and memory; BestEffort
/// when no container asks for anything; Burstable otherwise.
fn qos_class(containers: &[Value]) -> &'static str {
    let part = |c: &Value, p: &str| c.pointer(&format!("/resources/{p}")).and_then(Value::as_object).cloned();
    let any = containers.iter().any(|c| {
        part(c, "limits").is_some_and(|m| !m.is_empty()) || part(c, "requests").is_some_and(|m| !m.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = part(c, "limits").unwrap_or_default();
        let requests = part(c, "requests").unwrap_or_default();
        ["cpu", "memory"].iter().all(|r| limits.get(*r).is_some() && requests.get(*r) == limits.get(*r))
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// 64-bit FNV-1a (stable ids and digests for the fake).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
