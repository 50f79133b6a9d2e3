//! `tenantd run` on a (fake) cluster: it converges a spec, follows the cluster's watch events to
//! set a deleted object back without waiting for its resync, and rolls a spec edit. And the
//! guard: `runtime = "kubernetes"` without a usable cluster configuration stops at start.

mod fake_kube;
mod support_kube;

use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams};
use support_kube::*;

const CONVERGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_converges_follows_the_clusters_events_and_rolls_an_edit() {
    let c = Cluster::start(None).await;
    // Nothing but the watch can bring a deleted object back within the test's deadline.
    c.write_config("[daemon]\nresync_interval = \"1h\"\ndebounce = \"50ms\"\n");
    c.spec("acme.yaml", &registry_spec("acme", ""));
    let log = std::fs::File::create(c.path("daemon.log")).unwrap();
    let child = c.command(&["run"]).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let mut daemon = Daemon(child);

    let uid = eventually("the Deployment", CONVERGE, || c.object("deployments", "acme", "runtime")).await["metadata"]
        ["uid"]
        .clone();
    eventually("acme Running", CONVERGE, || c.status("acme").filter(|s| s["phase"] == "Running")).await;

    let services: Api<Service> = Api::namespaced(c.fake.client().await, &c.namespace("acme"));
    services.delete("runtime", &DeleteParams::default()).await.unwrap();
    eventually("the Service set back", CONVERGE, || c.object("services", "acme", "runtime")).await;

    c.spec("acme.yaml", &registry_spec("acme", "").replace("LOG_LEVEL: info", "LOG_LEVEL: debug"));
    eventually("the edit rolled out", CONVERGE, || {
        c.object("deployments", "acme", "runtime")
            .filter(|d| d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "debug")
    })
    .await;
    assert_eq!(c.object("deployments", "acme", "runtime").unwrap()["metadata"]["uid"], uid, "patched, not recreated");
    eventually("acme Running after the edit", CONVERGE, || {
        c.status("acme").filter(|s| s["phase"] == "Running" && s["appliedHash"] == s["specHash"])
    })
    .await;

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(daemon.0.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = tokio::task::block_in_place(|| daemon.0.wait()).unwrap();
    assert!(status.success(), "the daemon stops cleanly on SIGTERM: {status}");
    let log = std::fs::read_to_string(c.path("daemon.log")).unwrap();
    assert!(log.contains("tenantd is running"), "{log}");
    assert!(c.object("deployments", "acme", "runtime").is_some(), "tenants keep running when tenantd stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cluster_configuration_tenantd_stops_at_start_and_never_uses_docker() {
    let c = Cluster::start(None).await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        &c.config,
        format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {:?}\nruntime = \"kubernetes\"\n",
            c.tenants, c.state, c.instance
        ),
    )
    .unwrap();
    c.spec("acme.yaml", &registry_spec("acme", ""));
    let env = [("HOME", home.path().to_str().unwrap()), ("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    for args in [&["plan"][..], &["apply"], &["run"]] {
        let started = Instant::now();
        let out = c.tenantd_with_env(args, &env);
        expect_exit(&out, 1, &format!("{args:?} without a cluster configuration"));
        assert!(started.elapsed() < Duration::from_secs(10), "{args:?} failed fast");
        let err = stderr(&out);
        assert!(err.contains("no cluster configuration is usable"), "{args:?}: {err}");
        assert!(err.contains("$KUBECONFIG is not set") && err.contains("not a pod in a cluster"), "{args:?}: {err}");
        assert!(!err.contains("nonexistent/docker.sock"), "{args:?} tried Docker: {err}");
    }
    assert!(!c.state.join("status").exists(), "nothing was recorded");

    // The same with the in-cluster switch off, inside a pod.
    std::fs::write(&c.config, std::fs::read_to_string(&c.config).unwrap() + "[kubernetes]\nin_cluster = false\n")
        .unwrap();
    let out = c.tenantd_with_env(&["plan"], &[env[0], ("KUBERNETES_SERVICE_HOST", "10.96.0.1")]);
    expect_exit(&out, 1, "in_cluster = false");
    assert!(stderr(&out).contains("in_cluster = false"), "{}", stderr(&out));

    // A named kubeconfig that does not exist is an error of its own, not a fallback.
    std::fs::write(
        &c.config,
        format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\nruntime = \"kubernetes\"\n[kubernetes]\nkubeconfig = \"missing\"\n",
            c.tenants, c.state
        ),
    )
    .unwrap();
    let out = c.tenantd_with_env(&["plan"], &env);
    expect_exit(&out, 1, "a missing kubeconfig");
    assert!(stderr(&out).contains("missing ([kubernetes] kubeconfig) cannot be used"), "{}", stderr(&out));
}

/// The (API group, resource, verb) an API call needs, as RBAC names them.
fn rbac_need(call: &fake_kube::Call) -> Option<(String, String, String)> {
    let segments: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None, // /version, discovery
    };
    let (resource, named) = match rest {
        ["namespaces"] => ("namespaces", false),
        ["namespaces", _] => ("namespaces", true),
        ["namespaces", _, resource] => (*resource, false),
        ["namespaces", _, resource, _] => (*resource, true),
        [resource] => (*resource, false),
        [] => return None,
        other => panic!("an unexpected path: {other:?}"),
    };
    let verb = match (call.method.as_str(), named) {
        ("GET", _) if call.query.contains("watch=true") || call.query.contains("watch=1") => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        // A server-side apply that creates needs `create` as well as `patch`.
        ("PATCH", _) if call.status == 201 => "create",
        ("PATCH", _) => "patch",
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        (m, _) => panic!("an unexpected method {m}"),
    };
    Some((group.to_string(), resource.to_string(), verb.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_rbac_grants_every_call_tenantd_makes_and_no_deletion_of_data() {
    let granted = support_kube::example_rbac_grants();
    for data in ["namespaces", "persistentvolumeclaims"] {
        assert!(
            !granted.contains(&(String::new(), data.to_string(), "delete".to_string())),
            "{data} are never deleted"
        );
    }

    let c = Cluster::start(None).await;
    c.write_config("[daemon]\ndebounce = \"50ms\"\n");
    c.spec("acme.yaml", &registry_spec("acme", ""));
    c.spec("globex.yaml", &registry_spec("globex", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "apply");
    std::fs::remove_file(c.tenants.join("globex.yaml")).unwrap();
    let log = std::fs::File::create(c.path("daemon.log")).unwrap();
    let _daemon = Daemon(c.command(&["run"]).stdout(Stdio::null()).stderr(log).spawn().unwrap());
    eventually("globex deleted by the daemon", CONVERGE, || {
        c.object("deployments", "globex", "runtime").is_none().then_some(())
    })
    .await;
    c.spec("acme.yaml", &registry_spec("acme", "").replace("LOG_LEVEL: info", "LOG_LEVEL: debug"));
    eventually("acme patched by the daemon", CONVERGE, || {
        c.object("deployments", "acme", "runtime")
            .filter(|d| d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "debug")
    })
    .await;
    eventually("the daemon's watches", CONVERGE, || {
        c.fake.calls().iter().any(|call| call.query.contains("watch=")).then_some(())
    })
    .await;

    // The fake records a call just after the change it made is visible, so the last one may
    // still be on its way.
    let every_verb: std::collections::BTreeSet<&str> = ["create", "delete", "get", "list", "patch", "watch"].into();
    let needed = eventually("every kind of call recorded", CONVERGE, || {
        let needed: std::collections::BTreeSet<_> = c.fake.calls().iter().filter_map(rbac_need).collect();
        let verbs: std::collections::BTreeSet<&str> = needed.iter().map(|(_, _, v)| v.as_str()).collect();
        (verbs == every_verb).then(|| needed.clone())
    })
    .await;
    let missing: Vec<_> = needed.difference(&granted).collect();
    assert!(missing.is_empty(), "examples/kubernetes/rbac.yaml does not grant: {missing:?}");
}
