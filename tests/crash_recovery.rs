//! `tenantd run` killed with SIGKILL in the middle of an apply leaves nothing a restart cannot
//! finish: the new daemon takes over the state directory, adopts what the dead one created,
//! gives a container set aside by an interrupted replacement up, and ends with exactly one
//! container and one network per tenant, volumes kept. These tenants replace stop first (the
//! runtime holds the published port itself); a start-first replacement cut short by SIGKILL is in
//! tests/zero_downtime.rs.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);
const STOP_FIRST: &str = "  rollout: { strategy: stopFirst }\n";

fn host_port_of(c: &serde_json::Value) -> u16 {
    c["NetworkSettings"]["Ports"]["18789/tcp"][0]["HostPort"].as_str().unwrap().parse().unwrap()
}

#[test]
fn sigkill_mid_replacement_then_restart_leaves_one_container_and_the_volume() {
    let Some(env) = Env::new("sigkill_mid_replacement_then_restart_leaves_one_container_and_the_volume") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", STOP_FIRST));
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let old = container_id(&env, "acme").unwrap();
    // A file in the volume, written on the engine's host side, tells the same volume from a new one.
    let mountpoint =
        env.inspect(&env.volume("acme", "data")).expect("acme's volume")["Mountpoint"].as_str().unwrap().to_string();
    let marker = std::path::Path::new(&mountpoint).join("tenant-data");
    std::fs::write(&marker, "kept").unwrap_or_else(|e| panic!("write {}: {e}", marker.display()));

    // An env change replaces the container; the new runtime starts unhealthy, so the daemon is
    // caught waiting with the old container set aside.
    let unhealthy = stub_spec("acme", STOP_FIRST)
        .replace("retries: 3", "retries: 20")
        .replace("hello", "changed, STUB_HEALTH: down");
    env.spec("acme.yaml", &unhealthy);
    let aside = format!("{}.previous", env.container("acme"));
    let new = await_container(&env, "acme", "the replacement to run", CONVERGE, |c| {
        c["Id"] != old.as_str() && c["State"]["Running"] == true
    });
    assert!(
        instance_containers(&env).contains(&aside),
        "the old container is set aside: {:?}",
        instance_containers(&env)
    );
    daemon.signal("KILL");
    daemon.wait_exit(CONVERGE);

    // A new daemon on the same state directory: the dead one's lock does not hold it back.
    let daemon = Daemon::start(&env);
    // The replacement is what the spec asks for; the one set aside goes.
    eventually("the container set aside to be removed", CONVERGE, || {
        (instance_containers(&env) == [env.container("acme")]).then_some(())
    });
    assert_eq!(container_id(&env, "acme").as_deref(), new["Id"].as_str(), "the replacement is adopted, not recreated");
    assert!(http_post(host_port_of(&new), "/control/health", "ok") == Some(200));
    let status = daemon.await_running(&env, "acme", CONVERGE);
    assert_eq!(status["containerId"], new["Id"]);
    assert_eq!(instance_networks(&env), [env.network("acme")]);
    assert_eq!(std::fs::read_to_string(&marker).ok().as_deref(), Some("kept"), "the volume and its data are kept");
}

#[test]
fn sigkill_mid_create_then_restart_adopts_without_duplicates() {
    let Some(env) = Env::new("sigkill_mid_create_then_restart_adopts_without_duplicates") else {
        return;
    };
    let mut daemon = Daemon::start(&env);
    // Two tenants at once, both waiting for a runtime that starts unhealthy.
    for t in ["acme", "beta"] {
        env.spec(
            &format!("{t}.yaml"),
            &stub_spec(t, STOP_FIRST).replace("retries: 3", "retries: 20").replace("hello", "hello, STUB_HEALTH: down"),
        );
    }
    let running: Vec<serde_json::Value> = ["acme", "beta"]
        .iter()
        .map(|t| await_container(&env, t, "the container to run", CONVERGE, |c| c["State"]["Running"] == true))
        .collect();
    // Both applies are under way: the statuses written when they began say Pending.
    for t in ["acme", "beta"] {
        let status = env.status(t).unwrap_or_else(|| panic!("{t}: no status written when its apply began"));
        assert_eq!(status["phase"], "Pending", "{t}: {status:#}");
    }
    daemon.signal("KILL");
    daemon.wait_exit(CONVERGE);

    let daemon = Daemon::start(&env);
    for (t, c) in ["acme", "beta"].iter().zip(&running) {
        assert!(http_post(host_port_of(c), "/control/health", "ok") == Some(200));
        daemon.await_running(&env, t, CONVERGE);
        assert_eq!(container_id(&env, t).as_deref(), c["Id"].as_str(), "{t}: adopted, not recreated");
    }
    assert_eq!(instance_containers(&env), [env.container("acme"), env.container("beta")]);
    assert_eq!(instance_networks(&env), [env.network("acme"), env.network("beta")]);
}
