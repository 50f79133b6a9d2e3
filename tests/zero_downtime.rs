//! A replacement costs no request. A steady client sends 200 requests/s to a tenant's endpoint
//! (half on a new connection each, half on kept-alive connections) while tenantd replaces its
//! runtime for an env change, tries a replacement that never becomes healthy, and restarts
//! itself; not one request may fail. On Docker and on Podman. `rollout: stopFirst` still
//! replaces as before: the runtime publishes the port itself and stops first.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use support::daemon::{Daemon, STARTUP};
use support::load::{Connections, LoadConfig, LoadReport, SteadyClient};
use support::podman::PodmanService;
use support::*;

const CONVERGE: Duration = Duration::from_secs(60);
const PODMAN_POOL: &str = "10.251.64.0/24";

/// Two steady clients on the tenant's endpoint, 100 requests/s each: one opens a connection
/// per request, the other keeps its connections.
struct Traffic(Vec<SteadyClient>);

impl Traffic {
    fn start(port: u16) -> Traffic {
        let client = |connections| {
            SteadyClient::start(LoadConfig {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                path: "/health".into(),
                rate_per_sec: 100,
                connections,
                timeout: Duration::from_secs(2),
            })
        };
        let t = Traffic(vec![client(Connections::PerRequest), client(Connections::KeepAlive)]);
        eventually("the clients to get answers", CONVERGE, || t.0.iter().all(|c| c.ok() >= 20).then_some(()));
        t
    }

    /// Lets a few more requests through after the change, then stops; the reports of both.
    fn stop(self) -> Vec<LoadReport> {
        let sent: Vec<u64> = self.0.iter().map(SteadyClient::sent).collect();
        eventually("more requests after the change", CONVERGE, || {
            self.0.iter().zip(&sent).all(|(c, s)| c.sent() >= s + 50).then_some(())
        });
        self.0.into_iter().map(SteadyClient::stop).collect()
    }
}

fn assert_no_failure(what: &str, reports: &[LoadReport]) {
    for r in reports {
        assert!(r.ok > 50, "{what}: too few answers to judge: {}", r.summary());
        assert_eq!(r.failed(), 0, "{what}: {}", r.summary());
    }
}

/// The env change, the replacement that never becomes healthy, and a restart of the daemon,
/// each under traffic; `id` reads the main container's id on the engine.
fn replacements_cost_no_request(env: &Env, id: &dyn Fn() -> Option<String>) {
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let port = env.host_port("acme");
    let first = id().expect("acme's runtime");

    // (1) An env change, by apply: the new runtime starts first.
    let traffic = Traffic::start(port);
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour"));
    let plan = env.tenantd(&["plan"]);
    assert!(stdout(&plan).contains("acme: replace (start first, because of: env)"), "{}", stdout(&plan));
    let out = env.apply_ok();
    assert!(out.contains("acme: replaced (env)"), "{out}");
    assert_no_failure("env change", &traffic.stop());
    let second = id().expect("acme's new runtime");
    assert_ne!(first, second, "the env change made a new container");
    assert_eq!(env.host_port("acme"), port, "the endpoint stays");

    // (2) A replacement that never becomes healthy: rolled back, the old one never stopped.
    let traffic = Traffic::start(port);
    let degraded = stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour, STUB_HEALTH: degraded");
    env.spec("acme.yaml", &degraded);
    let failed = env.tenantd(&["apply"]);
    assert!(!failed.status.success(), "a rolled-back apply fails: {}", stdout(&failed));
    assert_no_failure("failed replacement", &traffic.stop());
    assert_eq!(id().as_ref(), Some(&second), "the old runtime is the one that runs");
    let status = env.status("acme").expect("acme's status");
    assert_eq!(status["phase"], "RolledBack", "{status}");

    // (3) The daemon restarted (SIGTERM, then started again), and then an env change made by
    // the daemon alone.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour"));
    let traffic = Traffic::start(port);
    let mut daemon = Daemon::start(env);
    await_serving(env, id, STARTUP);
    daemon.signal("TERM");
    daemon.wait_exit(STARTUP);
    let daemon = Daemon::start(env);
    await_serving(env, id, STARTUP);
    assert_eq!(id().as_ref(), Some(&second), "a restart of the daemon recreates nothing");
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: salut"));
    let third = eventually("the daemon to replace acme", CONVERGE, || id().filter(|i| *i != second));
    await_serving(env, id, CONVERGE);
    assert_no_failure("daemon restart and replacement", &traffic.stop());
    assert_ne!(third, second);
    drop(daemon);
}

/// Waits until acme's status says its runtime (`id`) runs healthy and its endpoint answers.
fn await_serving(env: &Env, id: &dyn Fn() -> Option<String>, within: Duration) {
    eventually("acme running and healthy", within, || {
        let s = env.status("acme").filter(|s| s["phase"] == "Running" && s["health"] == "healthy")?;
        (s["containerId"].as_str() == id().as_deref()).then_some(())?;
        (http_get(s["hostPort"].as_u64()? as u16, "/health") == Some(200)).then_some(())
    });
}

#[test]
fn replacements_and_daemon_restarts_cost_no_request_on_docker() {
    let Some(env) = Env::new("replacements_and_daemon_restarts_cost_no_request_on_docker") else { return };
    let container = env.container("acme");
    replacements_cost_no_request(&env, &|| env.container_id("acme"));
    // Both halves of the tenant run hardened: the ingress as much as the runtime.
    let ingress = env.inspect(&format!("{container}_ingress")).expect("acme's ingress");
    assert_eq!(ingress["HostConfig"]["ReadonlyRootfs"], true, "{ingress}");
    assert_eq!(ingress["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(ingress["Config"]["User"], "65534:65534");
    let runtime = env.inspect(&container).unwrap();
    let bindings = &runtime["HostConfig"]["PortBindings"];
    assert!(bindings.is_null() || bindings == &serde_json::json!({}), "the runtime publishes nothing: {bindings}");
}

#[test]
fn replacements_and_daemon_restarts_cost_no_request_on_podman() {
    let test = "replacements_and_daemon_restarts_cost_no_request_on_podman";
    let Some(mut podman) = PodmanService::start(test) else { return };
    podman.load_from_docker(&stub::stub_image());
    let env = Env::without_docker();
    podman.owns_instance(&env.instance);
    env.write_config(&format!("[docker]\nhost = {:?}\nnetwork_pool = \"{PODMAN_POOL}\"\n", podman.host()));
    let container = env.container("acme");
    replacements_cost_no_request(&env, &|| podman.container_id(&container));
}

#[test]
fn stop_first_replaces_as_before_with_the_port_on_the_runtime() {
    let Some(env) = Env::new("stop_first_replaces_as_before_with_the_port_on_the_runtime") else { return };
    let spec = |greeting: &str| {
        stub_spec("acme", "  rollout: { strategy: stopFirst }\n")
            .replace("GREETING: hello", &format!("GREETING: {greeting}"))
    };
    env.spec("acme.yaml", &spec("hello"));
    env.apply_ok();
    let port = env.host_port("acme");
    let container = env.container("acme");
    let published = env.inspect(&container).unwrap()["HostConfig"]["PortBindings"].to_string();
    assert!(published.contains(&port.to_string()), "the runtime publishes the port itself: {published}");
    assert!(env.inspect(&format!("{container}_ingress")).is_none(), "no ingress with stopFirst");
    let first = env.container_id("acme").unwrap();

    env.spec("acme.yaml", &spec("bonjour"));
    let plan = env.tenantd(&["plan"]);
    assert!(stdout(&plan).contains("acme: replace (stop first, because of: env)"), "{}", stdout(&plan));
    let out = env.apply_ok();
    assert!(out.contains("acme: replaced (env)"), "{out}");
    assert_ne!(env.container_id("acme").unwrap(), first);
    assert_eq!(env.host_port("acme"), port);
    assert_eq!(http_get(port, "/health"), Some(200));
}

#[test]
fn tenantd_killed_in_the_middle_of_a_start_first_replacement_leaves_one_runtime_serving() {
    let Some(env) = Env::new("tenantd_killed_in_the_middle_of_a_start_first_replacement_leaves_one_runtime_serving")
    else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let port = env.host_port("acme");
    let container = env.container("acme");
    let old = env.container_id("acme").unwrap();
    let traffic = Traffic::start(port);

    // A replacement that takes its whole health budget (it never becomes healthy), killed while
    // the new runtime runs beside the old one, set aside.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: hi, STUB_HEALTH: degraded"));
    let mut apply = std::process::Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .arg("--config")
        .arg(&env.config)
        .arg("apply")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tenantd apply starts");
    let aside = format!("{container}.previous");
    eventually("the old runtime to be set aside and the new one to run", CONVERGE, || {
        let set_aside = env.inspect(&aside).is_some_and(|c| c["Id"] == old.as_str());
        let new_runs =
            env.inspect(&container).is_some_and(|c| c["State"]["Running"] == true && c["Id"] != old.as_str());
        (set_aside && new_runs).then_some(())
    });
    apply.kill().expect("SIGKILL");
    apply.wait().unwrap();

    // The next run finds the one the ingress forwards to (the old one) and removes the other.
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    assert_no_failure("killed replacement", &traffic.stop());
    assert_eq!(env.container_id("acme").as_deref(), Some(old.as_str()), "the serving runtime is kept");
    assert!(env.inspect(&aside).is_none(), "nothing stays set aside");
    let mains = stdout(&docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.tenantd.instance={}", env.instance),
        "--filter",
        "label=io.tenantd.role=main",
    ]));
    assert_eq!(mains.split_whitespace().count(), 1, "one runtime: {mains}");
}

#[test]
fn a_port_taken_by_a_foreign_process_while_the_ingress_is_gone_is_an_error_and_stops_nothing() {
    let Some(env) =
        Env::new("a_port_taken_by_a_foreign_process_while_the_ingress_is_gone_is_an_error_and_stops_nothing")
    else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let port = env.host_port("acme");
    let runtime = env.container_id("acme").unwrap();
    let ingress = format!("{}_ingress", env.container("acme"));

    // The ingress goes (tenantd not running), and another program takes the port meanwhile.
    assert!(docker(&["rm", "-f", &ingress]).status.success());
    let squatter = eventually("the port to be free for the other program", CONVERGE, || {
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok()
    });
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let status = env.status("acme").unwrap();
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("host port {port} is already in use")), "{status:#}");
    assert_eq!(env.container_id("acme").as_deref(), Some(runtime.as_str()), "the runtime is left running");
    assert_eq!(env.inspect(&env.container("acme")).unwrap()["State"]["Running"], true);
    assert!(env.inspect(&ingress).is_none(), "no ingress on another port");

    // Once the port is free again, the ingress comes back on it: the URL never changed.
    drop(squatter);
    env.apply_ok();
    assert_eq!(env.host_port("acme"), port);
    assert_eq!(http_get(port, "/health"), Some(200));
    assert_eq!(env.container_id("acme").as_deref(), Some(runtime.as_str()));
}
