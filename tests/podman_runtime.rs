//! The Docker runtime driving Podman through its Docker-compatible API: the real binary against
//! a private `podman system service` (own socket, own storage), through create, no-op, a limit
//! change, replace, delete and drift repair (network attachments included), with the engine
//! reported as Podman, and the day-2 commands (stats, logs, exec, restart) on a tenant it runs.

mod support;

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::daemon::Daemon;
use support::podman::PodmanService;
use support::*;

const CONVERGE: Duration = Duration::from_secs(60);
/// Tenant subnets on the tests' Podman services: apart from the default pool Docker tests use,
/// and one for each test, since Podman checks a new network's subnet against the networks of
/// every Podman service of the host (their CNI configurations are shared).
const PODMAN_POOL: &str = "10.251.0.0/24";
const PODMAN_POOL_ATTACHMENTS: &str = "10.251.2.0/24";

#[test]
fn podman_runs_tenants_through_the_compatible_api() {
    let test = "podman_runs_tenants_through_the_compatible_api";
    let Some(mut podman) = PodmanService::start(test) else { return };
    podman.load_from_docker(&stub::stub_image());
    let env = Env::without_docker();
    podman.owns_instance(&env.instance);
    // Networks of both engines share the host's routing, but neither engine sees the other's:
    // a pool of its own keeps Podman's tenant subnets off the ones Docker tenants use.
    env.write_config(&format!("[docker]\nhost = {:?}\nnetwork_pool = \"{PODMAN_POOL}\"\n", podman.host()));
    let plan = |env: &Env| {
        let o = env.tenantd(&["plan"]);
        assert!(o.status.success(), "plan failed: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };

    // Create: two tenants, so that removing one spec later is a deletion, not an empty dir.
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("keep.yaml", &stub_spec("keep", ""));
    env.apply_ok();
    let acme = env.container("acme");
    let first = podman.container_id(&acme).expect("acme's container on podman");
    let inspected = podman.inspect(&acme).unwrap();
    assert_eq!(inspected["State"]["Running"], true, "{inspected}");
    assert_eq!(inspected["HostConfig"]["Memory"], 64 << 20);
    let port = env.host_port("acme");
    eventually("acme to answer /health", CONVERGE, || (http_get(port, "/health") == Some(200)).then_some(()));
    // Podman needs explicit limits within what it may grant; tenantd always sets them.
    let ulimits = inspected["HostConfig"]["Ulimits"].to_string();
    assert!(ulimits.contains("RLIMIT_NOFILE") && ulimits.contains("RLIMIT_NPROC"), "{ulimits}");

    let status = env.status("acme").expect("acme's status");
    assert_eq!((&status["engine"]["kind"], &status["engine"]["version"]), (&"podman".into(), &podman.version().into()));

    // No-op: a second plan changes nothing.
    let again = plan(&env);
    assert!(again.contains("0 to create, 0 to update in place, 0 to replace, 0 to delete"), "{again}");

    // A memory change: Podman 4 cannot update limits so that inspect shows them, so the
    // container is replaced (an in-place update would be planned again on every pass).
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    let planned = plan(&env);
    assert!(planned.contains("acme: replace (start first, because of: limits)"), "{planned}");
    env.apply_ok();
    let resized = podman.container_id(&acme).expect("acme after the limit change");
    assert_ne!(resized, first);
    assert_eq!(podman.inspect(&acme).unwrap()["HostConfig"]["Memory"], 96 << 20);
    assert!(podman.inspect(&first).is_none(), "the old container is gone");
    let settled = plan(&env);
    assert!(settled.contains("acme: no change"), "{settled}");

    // Replace: an env change makes a new container; the old one is removed.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi").replace("hello", "bonjour"));
    env.apply_ok();
    let replaced = podman.container_id(&acme).expect("acme after the env change");
    assert_ne!(replaced, resized);
    assert!(podman.inspect(&resized).is_none(), "the replaced container is gone");
    let env_vars = podman.inspect(&acme).unwrap()["Config"]["Env"].to_string();
    assert!(env_vars.contains("GREETING=bonjour"), "{env_vars}");
    eventually("the replacement to answer /health", CONVERGE, || {
        (http_get(env.host_port("acme"), "/health") == Some(200)).then_some(())
    });

    // Delete: the spec goes, so do the container and network; the volume stays.
    env.remove_spec("acme.yaml");
    env.apply_ok();
    assert!(podman.container_id(&acme).is_none(), "acme's container is removed");
    assert!(!podman.labelled("network", &env.instance).contains(&env.network("acme")));
    assert!(podman.labelled("volume", &env.instance).contains(&env.volume("acme", "data")));

    // Drift repair: the daemon recreates a container removed behind its back, and tells the
    // service manager and the status file that the engine is Podman.
    let notify_path = env.path("notify");
    let heard = listen(UnixDatagram::bind(&notify_path).expect("bind the notify socket"));
    let notify = notify_path.display().to_string();
    let daemon = Daemon::start_with(&env, &[], &[("NOTIFY_SOCKET", &notify)]);
    daemon.await_phase(&env, "keep", "Running", CONVERGE);
    let keep = env.container("keep");
    let before = podman.container_id(&keep).expect("keep's container");
    podman.cli_ok(&["rm", "--force", "--time", "0", &keep]);
    let repaired = eventually("keep's container to be recreated", CONVERGE, || {
        podman.container_id(&keep).filter(|id| *id != before)
    });
    eventually("the repaired container to answer", CONVERGE, || {
        let running = podman.inspect(&repaired)?["State"]["Running"].as_bool()?;
        (running && http_get(env.host_port("keep"), "/health") == Some(200)).then_some(())
    });

    let status_line = eventually("a STATUS= line naming podman", CONVERGE, || {
        heard.lock().unwrap().iter().find(|m| m.starts_with("STATUS=") && m.contains(" on podman ")).cloned()
    });
    assert!(status_line.contains("1 tenants"), "{status_line}");
    let status = eventually("keep's status to name the engine", CONVERGE, || {
        env.status("keep").filter(|s| s["engine"]["kind"] == "podman")
    });
    assert_eq!(status["engine"]["endpoint"], podman.host());
    let table = env.tenantd(&["status"]);
    assert!(stdout(&table).contains("engine: podman "), "{}{}", stdout(&table), stderr(&table));

    // Day-2 commands work the same on Podman: stats, logs, exec and restart.
    let stats = env.tenantd(&["stats", "--no-stream", "-o", "json", "keep"]);
    assert!(stats.status.success(), "stats: {}", stderr(&stats));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).expect("stats -o json is JSON");
    let keep_usage = &stats[0];
    assert_eq!(keep_usage["tenant"], "keep", "{stats}");
    assert!(keep_usage["memoryBytes"].as_u64().unwrap_or(0) > 0, "{stats}");
    assert_eq!(keep_usage["memoryLimitBytes"], 64u64 << 20, "{stats}");

    let logs = env.tenantd(&["logs", "keep", "--tail", "20"]);
    assert!(logs.status.success(), "logs: {}", stderr(&logs));
    assert!(stdout(&logs).contains("listening on"), "{}", stdout(&logs));

    let exec = env.tenantd(&["exec", "keep", "--", "/stub-runtime", "echo", "from", "podman"]);
    assert!(exec.status.success(), "exec: {}", stderr(&exec));
    assert_eq!(stdout(&exec).trim(), "from podman");
    let failing = env.tenantd(&["exec", "keep", "--", "/stub-runtime", "exit", "3"]);
    assert_eq!(failing.status.code(), Some(3), "exec passes the exit code: {}", stderr(&failing));

    let restarted = env.tenantd(&["restart", "keep"]);
    assert!(restarted.status.success(), "restart: {}", stderr(&restarted));
    assert_eq!(podman.container_id(&keep).as_ref(), Some(&repaired), "restart keeps the container");
    eventually("keep to answer after its restart", CONVERGE, || {
        (http_get(env.host_port("keep"), "/health") == Some(200)).then_some(())
    });
    drop(daemon);
}

#[test]
fn podman_connects_a_detached_container_again_in_place() {
    let test = "podman_connects_a_detached_container_again_in_place";
    let Some(mut podman) = PodmanService::start(test) else { return };
    podman.load_from_docker(&stub::stub_image());
    let env = Env::without_docker();
    podman.owns_instance(&env.instance);
    env.write_config(&format!("[docker]\nhost = {:?}\nnetwork_pool = \"{PODMAN_POOL_ATTACHMENTS}\"\n", podman.host()));
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let (name, network) = (env.container("acme"), env.network("acme"));
    let id = podman.container_id(&name).expect("acme's container on podman");
    let port = env.host_port("acme");
    eventually("acme to answer /health", CONVERGE, || (http_get(port, "/health") == Some(200)).then_some(()));

    podman.cli_ok(&["network", "disconnect", "--force", &network, &name]);
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(2), "{text}{}", stderr(&plan));
    assert!(
        text.contains(&format!("connect container {name} to network {network} (alias runtime; no restart)")),
        "{text}"
    );

    env.apply_ok();
    assert_eq!(podman.container_id(&name), Some(id), "connected again, not recreated");
    let aliases = podman.inspect(&name).unwrap()["NetworkSettings"]["Networks"][&network]["Aliases"].to_string();
    assert!(aliases.contains("\"runtime\""), "{aliases}");
    eventually("acme to answer /health again", CONVERGE, || (http_get(port, "/health") == Some(200)).then_some(()));
    assert_eq!(env.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
}

/// Everything the service manager's socket receives, read as it arrives (the socket's queue is
/// short: unread, later datagrams would be refused).
fn listen(socket: UnixDatagram) -> Arc<Mutex<Vec<String>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    // Ends with the test process; it only reads.
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            sink.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    heard
}
