//! `tenantd run` rides out an engine outage: it keeps running, says so, leaves status files and
//! running containers alone, and converges what changed meanwhile once the engine is back,
//! without duplicating anything. The outage is a proxy socket taken away, not the shared engine.

mod support;

use std::time::{Duration, Instant};

use support::daemon::*;
use support::engine_proxy::EngineProxy;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);
/// After the outage tenantd retries the engine with a growing delay (up to 30 s).
const RECOVER: Duration = Duration::from_secs(60);

#[test]
fn an_engine_outage_changes_nothing_and_the_daemon_catches_up_afterwards() {
    let Some(env) = Env::new("an_engine_outage_changes_nothing_and_the_daemon_catches_up_afterwards") else {
        return;
    };
    let mut proxy = EngineProxy::start(&env.path("engine.sock"));
    env.write_config(&format!("[daemon]\nresync_interval = \"2s\"\n[docker]\nhost = {:?}\n", proxy.url()));
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let acme_id = container_id(&env, "acme").unwrap();
    let before = std::fs::read(env.status_path("acme")).unwrap();

    proxy.stop();
    daemon.wait_for_log("engine unreachable", Duration::from_secs(20));
    env.spec("globex.yaml", &stub_spec("globex", ""));
    // Several resync intervals without an engine: nothing tenantd writes may change.
    let quiet_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < quiet_until {
        let now = std::fs::read(env.status_path("acme")).unwrap();
        assert!(
            now == before,
            "acme's status changed during the outage:\n{}\n-- was --\n{}",
            String::from_utf8_lossy(&now),
            String::from_utf8_lossy(&before)
        );
        assert!(daemon.is_running(), "the daemon exited during the outage:\n{}", daemon.logs());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(env.status("globex").is_none(), "a status for globex was written without an engine");
    let c = container(&env, "acme").expect("acme's container survives the outage");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["Id"], acme_id.as_str());

    proxy.restart();
    daemon.await_running(&env, "globex", RECOVER);
    daemon.await_running(&env, "acme", CONVERGE);
    assert_eq!(container_id(&env, "acme").unwrap(), acme_id, "acme was replaced after the outage");
    assert_eq!(instance_containers(&env), vec![env.container("acme"), env.container("globex")]);
    assert_eq!(instance_networks(&env), vec![env.network("acme"), env.network("globex")]);
    assert!(daemon.is_running());
}

#[test]
fn the_engine_event_stream_is_subscribed_again_after_it_drops() {
    let Some(env) = Env::new("the_engine_event_stream_is_subscribed_again_after_it_drops") else {
        return;
    };
    let mut proxy = EngineProxy::start(&env.path("engine.sock"));
    // No periodic resync: after the outage only a new subscription can report the rm below.
    env.write_config(&format!("[daemon]\nresync_interval = \"1h\"\n[docker]\nhost = {:?}\n", proxy.url()));
    env.spec("acme.yaml", &stub_spec("acme", "").replace("interval: 2s", "interval: 30s"));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);

    proxy.stop();
    daemon.wait_for_log("engine event stream lost", Duration::from_secs(20));
    proxy.restart();
    // Whether the rm below arrives through the new subscription, or the new subscription's
    // full pass finds it, only a subscription made after the outage can repair it.
    let first = container_id(&env, "acme").unwrap();
    let gone = docker(&["rm", "-f", &env.container("acme")]);
    assert!(gone.status.success());
    let back = eventually("acme's container to be created again by the event", RECOVER, || {
        container_id(&env, "acme").filter(|id| *id != first)
    });
    assert_ne!(back, first);
}

#[test]
fn an_outage_in_the_middle_of_a_create_ends_with_the_container_adopted() {
    let Some(env) = Env::new("an_outage_in_the_middle_of_a_create_ends_with_the_container_adopted") else {
        return;
    };
    let mut proxy = EngineProxy::start(&env.path("engine.sock"));
    env.write_config(&format!("[daemon]\nresync_interval = \"2s\"\n[docker]\nhost = {:?}\n", proxy.url()));
    let mut daemon = Daemon::start(&env);
    // The engine creates acme's container, and tenantd never hears that it did.
    proxy.cut_on("/containers/create");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    eventually("the cut", CONVERGE, || proxy.cut_happened().then_some(()));
    let created = eventually("the container the engine made", CONVERGE, || container_id(&env, "acme"));
    daemon.wait_for_log("engine unreachable", Duration::from_secs(20));
    assert!(daemon.is_running(), "{}", daemon.logs());
    assert!(env.status("acme").is_none_or(|s| s["phase"] != "Removed"), "{:?}", env.status("acme"));

    proxy.restart();
    let status = daemon.await_running(&env, "acme", RECOVER);
    assert_eq!(status["containerId"], created.as_str(), "the container made during the outage is adopted");
    assert_eq!(instance_containers(&env), [env.container("acme")]);
    assert_eq!(instance_networks(&env), [env.network("acme")]);
}
