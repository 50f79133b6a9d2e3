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
    c.fake.clear_calls();
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

/// Lines of a child's stdout as they come, read on a thread of their own.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line within the deadline.
fn next_line(lines: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    lines.recv_timeout(DEADLINE).unwrap_or_else(|e| panic!("{what}: no line within {DEADLINE:?}: {e}"))
}

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// The query of the last request for a log.
fn last_log_query(c: &Cluster) -> (String, String) {
    let call = c.fake.calls().into_iter().rev().find(|c| c.path.ends_with("/log")).expect("a log was read");
    (call.path, call.query)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_read_the_pod_log_of_the_runtime_or_a_sidecar_with_tail_since_and_timestamps() {
    let c = converged(&with_sidecar("acme")).await;
    let (ns, pod) = (c.namespace("acme"), pod_names(&c, "acme").remove(0));
    let now = time::OffsetDateTime::now_utc();
    c.fake.log_at(&ns, &pod, "runtime", now - time::Duration::hours(2), "two hours ago");
    c.fake.log_at(&ns, &pod, "runtime", now - time::Duration::minutes(1), "a minute ago");
    c.fake.log_at(&ns, &pod, "runtime", now, "just now");
    c.fake.log_at(&ns, &pod, "cache", now, "the sidecar speaks");

    let all = c.tenantd(&["logs", "acme"]);
    expect_exit(&all, 0, "logs");
    assert_eq!(stdout(&all), "two hours ago\na minute ago\njust now\n");
    let (path, query) = last_log_query(&c);
    assert_eq!(path, format!("/api/v1/namespaces/{ns}/pods/{pod}/log"));
    assert!(query.contains("container=runtime") && !query.contains("follow"), "{query}");

    let tail = c.tenantd(&["logs", "acme", "--tail", "1"]);
    assert_eq!(stdout(&tail), "just now\n");
    assert!(last_log_query(&c).1.contains("tailLines=1"));

    let hour = c.tenantd(&["logs", "acme", "--since", "1h"]);
    assert_eq!(stdout(&hour), "a minute ago\njust now\n");
    assert!(last_log_query(&c).1.contains("sinceSeconds=3600"), "a span goes as seconds: {:?}", last_log_query(&c));

    let at = (now - time::Duration::minutes(90)).replace_nanosecond(0).unwrap();
    let at = at.format(&time::format_description::well_known::Rfc3339).unwrap();
    let since_time = c.tenantd(&["logs", "acme", "--since", &at]);
    assert_eq!(stdout(&since_time), "a minute ago\njust now\n");
    assert!(last_log_query(&c).1.contains("sinceTime="), "a time goes as a time: {:?}", last_log_query(&c));

    let stamped = c.tenantd(&["logs", "acme", "--timestamps", "--tail", "1"]);
    let text = stdout(&stamped);
    let (stamp, line) = text.trim_end().split_once(' ').unwrap();
    assert_eq!(line, "just now");
    assert!(time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).is_ok(), "{text}");
    assert!(last_log_query(&c).1.contains("timestamps=true"));

    let sidecar = c.tenantd(&["logs", "acme", "-c", "cache"]);
    expect_exit(&sidecar, 0, "logs -c cache");
    assert_eq!(stdout(&sidecar), "the sidecar speaks\n");
    assert!(last_log_query(&c).1.contains("container=cache"));

    let unknown = c.tenantd(&["logs", "acme", "-c", "db"]);
    expect_exit(&unknown, 1, "logs of a sidecar the tenant lacks");
    assert!(stderr(&unknown).contains("no sidecar \"db\""), "{}", stderr(&unknown));
    assert!(c.fake.writes().is_empty(), "logs change nothing: {:?}", c.fake.writes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_streams_new_lines_until_the_pod_goes() {
    let c = converged(&registry_spec("acme", "")).await;
    let (ns, pod) = (c.namespace("acme"), pod_names(&c, "acme").remove(0));
    c.fake.log(&ns, &pod, "runtime", "before following");

    let mut child = c.command(&["logs", "acme", "--follow"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let lines = lines_of(&mut child);
    assert_eq!(next_line(&lines, "the existing line"), "before following");
    c.fake.log(&ns, &pod, "runtime", "while following");
    assert_eq!(next_line(&lines, "a line written later"), "while following");
    assert!(last_log_query(&c).1.contains("follow=true"));

    // The pod is replaced: its log ends, and so does the command, successfully.
    expect_exit(&c.tenantd(&["restart", "acme"]), 0, "restart");
    let deadline = std::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "logs --follow still runs after its pod went");
        std::thread::yield_now();
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_without_a_metrics_api_says_so_and_exits_1() {
    let c = converged(&with_sidecar("acme")).await;
    for output in ["table", "json"] {
        let out = c.tenantd(&["stats", "--no-stream", "-o", output]);
        expect_exit(&out, 1, "stats without metrics-server");
        let err = stderr(&out);
        assert!(
            err.contains("the cluster serves no metrics API (metrics.k8s.io); install metrics-server"),
            "{output}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(stdout(&out), "", "no table of unknowns");
    }
    let metrics = c.fake.calls().into_iter().filter(|c| c.path.starts_with("/apis/metrics.k8s.io/")).count();
    assert!(metrics > 0, "the metrics API was asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_shows_cpu_and_memory_from_the_metrics_api_and_no_network() {
    let c = converged(&with_sidecar("acme")).await;
    c.spec("globex.yaml", &registry_spec("globex", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "apply globex");
    c.fake.clear_calls();
    c.fake.serve_metrics(true);
    c.fake.set_usage(&c.namespace("acme"), "runtime", "250m", "48Mi");
    c.fake.set_usage(&c.namespace("acme"), "cache", "50000000n", "8Mi");
    c.fake.set_usage(&c.namespace("globex"), "runtime", "1", "32Mi");

    let out = c.tenantd(&["stats", "--no-stream", "-o", "json"]);
    expect_exit(&out, 0, "stats -o json");
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let acme = &rows[0];
    assert_eq!(acme["tenant"], "acme", "{rows}");
    assert_eq!(acme["containers"], 2);
    assert!((acme["cpuPercent"].as_f64().unwrap() - 30.0).abs() < 1e-9, "{acme}");
    assert_eq!(acme["memoryBytes"], 56 << 20);
    // The pod's limits: 64Mi for the runtime, 32Mi for the sidecar.
    assert_eq!(acme["memoryLimitBytes"], 96 << 20);
    assert!((acme["memoryPercent"].as_f64().unwrap() - 56.0 / 96.0 * 100.0).abs() < 1e-9, "{acme}");
    assert_eq!(acme["networkRxBytes"], serde_json::Value::Null, "the metrics API has no network figures");
    assert_eq!(acme["networkTxBytes"], serde_json::Value::Null);
    assert_eq!(rows[1]["tenant"], "globex");
    assert!((rows[1]["cpuPercent"].as_f64().unwrap() - 100.0).abs() < 1e-9, "{rows}");

    let table = c.tenantd(&["stats", "--no-stream", "acme"]);
    expect_exit(&table, 0, "stats acme");
    let text = stdout(&table);
    let row = text.lines().find(|l| l.starts_with("acme")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("30.00%") && row.contains("56.0MiB / 96.0MiB") && row.ends_with("- / -"), "{text}");
    assert!(!text.contains("globex"), "{text}");

    let yaml = c.tenantd(&["stats", "--no-stream", "-o", "yaml"]);
    let from_yaml: serde_json::Value = serde_yaml::from_str(&stdout(&yaml)).unwrap();
    assert_eq!(from_yaml[0]["memoryBytes"], 56 << 20);
    assert!(c.fake.writes().is_empty(), "stats change nothing: {:?}", c.fake.writes());
}

/// Runs the real binary with `input` on its stdin.
fn tenantd_with_stdin(c: &Cluster, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child =
        c.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    tokio::task::block_in_place(|| child.wait_with_output().unwrap())
}

/// The query of the last exec request.
fn last_exec(c: &Cluster) -> fake_kube::Call {
    c.fake.calls().into_iter().rev().find(|c| c.path.ends_with("/exec")).expect("an exec request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_in_the_pods_container_passes_streams_through_and_exits_with_the_commands_code() {
    let c = converged(&with_sidecar("acme")).await;
    let (ns, pod) = (c.namespace("acme"), pod_names(&c, "acme").remove(0));

    let echo = c.tenantd(&["exec", "acme", "--", "echo", "hello", "world"]);
    expect_exit(&echo, 0, "exec echo");
    assert_eq!(stdout(&echo), "hello world\n");
    let call = last_exec(&c);
    assert_eq!(call.path, format!("/api/v1/namespaces/{ns}/pods/{pod}/exec"));
    assert_eq!(call.status, 101, "upgraded to a WebSocket");
    for part in ["container=runtime", "command=echo&command=hello&command=world", "stdout=true", "stderr=true"] {
        assert!(call.query.contains(part), "{part}: {}", call.query);
    }
    assert!(!call.query.contains("stdin=true") && !call.query.contains("tty=true"), "{}", call.query);

    let failed = c.tenantd(&["exec", "acme", "-c", "cache", "--", "fail", "3"]);
    expect_exit(&failed, 3, "the command's exit code is tenantd's");
    assert_eq!((stdout(&failed).as_str(), stderr(&failed).as_str()), ("", "failing\n"));
    assert!(last_exec(&c).query.contains("container=cache"));

    let piped = tenantd_with_stdin(&c, &["exec", "acme", "-i", "--", "cat"], b"through stdin\nand on\n");
    expect_exit(&piped, 0, "exec -i cat");
    assert_eq!(stdout(&piped), "through stdin\nand on\n");
    assert!(last_exec(&c).query.contains("stdin=true"));

    let tty = c.tenantd(&["exec", "acme", "-t", "--", "fail", "2"]);
    expect_exit(&tty, 2, "exec -t");
    assert_eq!(stdout(&tty), "failing\n", "a terminal has one stream");
    let query = last_exec(&c).query;
    assert!(query.contains("tty=true") && !query.contains("stderr=true"), "{query}");

    let missing = c.tenantd(&["exec", "acme", "--", "nope"]);
    expect_exit(&missing, 1, "a command that does not exist");
    assert!(stderr(&missing).contains("executable file not found"), "{}", stderr(&missing));

    let unknown = c.tenantd(&["exec", "acme", "-c", "db", "--", "true"]);
    expect_exit(&unknown, 1, "a sidecar the tenant lacks");
    assert!(stderr(&unknown).contains("no sidecar \"db\""), "{}", stderr(&unknown));
    assert!(c.fake.writes().is_empty(), "exec changes no object: {:?}", c.fake.writes());
}

/// The (API group, resource, verb) an API call of a day-2 command needs, as RBAC names them.
fn rbac_need(call: &fake_kube::Call) -> Option<(String, String, String)> {
    let segments: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None, // /version
    };
    let (resource, named) = match rest {
        ["namespaces", _, resource, _, sub] => (format!("{resource}/{sub}"), true),
        ["namespaces", _, resource, _] => (resource.to_string(), true),
        ["namespaces", _, resource] => (resource.to_string(), false),
        [resource] => (resource.to_string(), false),
        other => panic!("an unexpected path: {other:?}"),
    };
    let verb = match (call.method.as_str(), named) {
        // A WebSocket exec is a GET upgraded; the API server authorizes it as `create`.
        ("GET", _) if resource == "pods/exec" => "create",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("PATCH", _) => "patch",
        (m, _) => panic!("an unexpected method {m} of a day-2 command"),
    };
    Some((group.to_string(), resource, verb.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_rbac_grants_every_call_of_the_day2_commands() {
    let granted = support_kube::example_rbac_grants();

    let c = converged(&with_sidecar("acme")).await;
    c.fake.serve_metrics(true);
    for args in [
        &["logs", "acme", "--tail", "1"][..],
        &["exec", "acme", "--", "echo", "hi"][..],
        &["stats", "--no-stream"][..],
        &["restart", "acme"][..],
    ] {
        expect_exit(&c.tenantd(args), 0, &format!("{args:?}"));
    }
    let calls = c.fake.calls();
    let needs: std::collections::BTreeSet<_> = calls.iter().filter_map(rbac_need).collect();
    for need in [("", "pods/log", "get"), ("", "pods/exec", "create"), ("metrics.k8s.io", "pods", "list")] {
        let need = (need.0.to_string(), need.1.to_string(), need.2.to_string());
        assert!(needs.contains(&need), "the commands made a call needing {need:?}: {needs:?}");
    }
    let missing: Vec<_> = needs.difference(&granted).collect();
    assert!(missing.is_empty(), "not granted by examples/kubernetes/rbac.yaml: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_daemon_leaves_a_restarted_pod_alone() {
    let c = Cluster::start(None).await;
    c.write_config("[daemon]\nresync_interval = \"1h\"\ndebounce = \"50ms\"\n");
    c.spec("acme.yaml", &registry_spec("acme", ""));
    let log = std::fs::File::create(c.path("daemon.log")).unwrap();
    let _daemon = Daemon(c.command(&["run"]).stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap());
    let running = |s: &serde_json::Value| s["phase"] == "Running" && s["appliedHash"] == s["specHash"];
    let before = eventually("acme Running", DEADLINE, || c.status("acme").filter(running)).await;
    let old_container = before["containerId"].clone();
    assert!(old_container.is_string(), "{before}");
    c.fake.clear_calls();

    expect_exit(&c.tenantd(&["restart", "acme"]), 0, "restart");
    // The daemon has made a pass over the new pod once its status names the new container.
    eventually("the daemon's status of the new pod", DEADLINE, || {
        c.status("acme").filter(|s| running(s) && s["containerId"] != old_container)
    })
    .await;
    let writes = c.fake.writes();
    assert_eq!(writes.len(), 1, "the restart's patch and nothing from the daemon: {writes:?}");
    assert_eq!(writes[0].field_manager.as_deref(), Some("tenantd-restart"));
    let dep = c.object("deployments", "acme", "runtime").unwrap();
    assert!(dep["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT].is_string(), "{dep}");
}
