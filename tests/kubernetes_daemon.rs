//! `tenantd run` on a (fake) cluster: it converges a spec, follows the cluster's watch events to
//! set a deleted object back without waiting for its resync, and rolls a spec edit. And the
//! guard: `runtime = "kubernetes"` without a usable cluster configuration stops at start.

mod fake_kube;
mod support_kube;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams};
use support_kube::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// Polls `f` (without blocking the fake's tasks) until it gives a value or `within` passes.
async fn eventually<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
