//! The day-2 commands (`restart`, `logs`, `stats`, `exec`) with `runtime = "kubernetes"`: the
//! real binary, through the real kube client, against the in-process fake API server, on a
//! tenant converged with `tenantd apply` first. What the fake cannot be (a kubelet running
//! processes, metrics-server sampling them) is simulated by it and named so in `fake_kube`.

mod fake_kube;
mod support_kube;

use support_kube::*;

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// A tenant of a registry image with a sidecar `cache`.
fn with_sidecar(name: &str) -> String {
    registry_spec(
        name,
        "  sidecars:\n    - { name: cache, image: registry.example/cache:1, resources: { memory: 32Mi, cpus: 0.1 } }\n",
    )
}

/// The names of the pods of a tenant's Deployment, as the fake holds them.
fn pod_names(c: &Cluster, tenant: &str) -> Vec<String> {
    let ns = c.namespace(tenant);
    c.fake
        .list("pods")
        .into_iter()
        .filter(|p| p["metadata"]["namespace"] == ns.as_str())
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

async fn converged(spec: &str) -> Cluster {
    let c = Cluster::start(None).await;
    c.spec("acme.yaml", spec);
    expect_exit(&c.tenantd(&["apply"]), 0, "apply");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_replaces_the_pod_by_a_rollout_restart_and_the_next_plan_is_a_no_op() {
    let c = converged(&with_sidecar("acme")).await;
    let before = c.object("deployments", "acme", "runtime").unwrap();
    let pods_before = pod_names(&c, "acme");
    assert_eq!(pods_before.len(), 1, "{pods_before:?}");
    c.fake.clear_calls();

    let out = c.tenantd(&["restart", "acme"]);
    expect_exit(&out, 0, "restart");
    assert!(stdout(&out).contains("acme: restarting its pod (rollout restart"), "{}", stdout(&out));
    let writes = c.fake.writes();
    assert_eq!(writes.len(), 1, "one patch of the Deployment: {writes:?}");
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(writes[0].path, format!("/apis/apps/v1/namespaces/{}/deployments/runtime", c.namespace("acme")));
    assert_eq!(writes[0].content_type.as_deref(), Some("application/strategic-merge-patch+json"));
    assert_eq!(writes[0].field_manager.as_deref(), Some("tenantd-restart"));

    let after = c.object("deployments", "acme", "runtime").unwrap();
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"], "the same Deployment");
    let stamp = after["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT].as_str().unwrap_or_default();
    assert!(time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).is_ok(), "{after}");
    let pods_after = pod_names(&c, "acme");
    assert_eq!(pods_after.len(), 1, "{pods_after:?}");
    assert_ne!(pods_after, pods_before, "the cluster replaced the pod");

    // tenantd's own reconcile sees no drift in the stamp: nothing to change, nothing written.
    c.fake.clear_calls();
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "a plan after the restart");
    let again = c.tenantd(&["apply"]);
    expect_exit(&again, 0, "an apply after the restart");
    assert!(stdout(&again).contains("acme: unchanged"), "{}", stdout(&again));
    assert!(c.fake.writes().is_empty(), "{:?}", c.fake.writes());
    assert_eq!(pod_names(&c, "acme"), pods_after, "the restarted pod stays");

    // An edit applied later keeps the stamp (another manager's field): no second replacement
    // beyond the edit's own.
    c.spec("acme.yaml", &with_sidecar("acme").replace("LOG_LEVEL: info", "LOG_LEVEL: debug"));
    expect_exit(&c.tenantd(&["apply"]), 0, "apply an edit");
    let edited = c.object("deployments", "acme", "runtime").unwrap();
    assert_eq!(edited["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT], stamp, "{edited}");
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "converged after the edit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_one_container_of_a_pod_is_refused_and_changes_nothing() {
    let c = converged(&with_sidecar("acme")).await;
    let pods = pod_names(&c, "acme");
    c.fake.clear_calls();
    let out = c.tenantd(&["restart", "acme", "-c", "cache"]);
    expect_exit(&out, 1, "restart -c");
    let err = stderr(&out);
    assert!(err.contains("on Kubernetes a restart is per pod") && err.contains("tenantd restart acme"), "{err}");
    assert!(c.fake.writes().is_empty(), "{:?}", c.fake.writes());
    assert_eq!(pod_names(&c, "acme"), pods);

    let out = c.tenantd(&["restart", "acmee"]);
    expect_exit(&out, 1, "restart of an unknown tenant");
    assert!(stderr(&out).contains("did you mean \"acme\""), "{}", stderr(&out));
    assert!(c.fake.writes().is_empty(), "{:?}", c.fake.writes());
}
