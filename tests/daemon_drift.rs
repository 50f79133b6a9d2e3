//! `tenantd run` repairs what happens behind its back as soon as the engine reports it, and
//! restarts a runtime that stops answering its health check.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);
/// How soon an engine event must have led to the repair. With the resync an hour away, only the
/// event can explain a repair at all; the bound keeps it prompt.
const REPAIR: Duration = Duration::from_secs(10);

#[test]
fn changes_behind_its_back_are_repaired_on_the_engines_event() {
    let Some(env) = Env::new("changes_behind_its_back_are_repaired_on_the_engines_event") else {
        return;
    };
    // No resync for an hour, and health probes 30 s apart (so tenantd's supervisor cannot notice
    // anything in time either): only the engine's events can explain the repairs below.
    env.write_config("[daemon]\nresync_interval = \"1h\"\n");
    env.spec("acme.yaml", &stub_spec("acme", "").replace("interval: 2s", "interval: 30s"));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let name = env.container("acme");

    // Idle, the daemon does not even read its tenants directory.
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watch = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        let _ = tx.send(e.map(|e| format!("{:?} {:?}", e.kind, e.paths)));
    })
    .unwrap();
    notify::Watcher::watch(&mut watch, &env.tenants, notify::RecursiveMode::NonRecursive).unwrap();
    if let Ok(touched) = rx.recv_timeout(Duration::from_secs(3)) {
        panic!("an idle daemon read its tenants directory: {touched:?}");
    }
    drop(watch);

    // Removed: created again, healthy.
    let first = container_id(&env, "acme").unwrap();
    assert!(docker(&["rm", "-f", &name]).status.success());
    let second = eventually("acme's container to be created again", REPAIR, || {
        container(&env, "acme").filter(|c| c["Id"] != first.as_str() && c["State"]["Running"] == true)
    })["Id"]
        .as_str()
        .unwrap()
        .to_string();
    daemon.await_running(&env, "acme", REPAIR);

    // Stopped: started again (the same container).
    let started = container(&env, "acme").unwrap()["State"]["StartedAt"].clone();
    assert!(docker(&["stop", "-t", "1", &name]).status.success());
    let c = eventually("acme's container to be started again", REPAIR, || {
        container(&env, "acme").filter(|c| c["State"]["Running"] == true && c["State"]["StartedAt"] != started)
    });
    assert_eq!(c["Id"], second.as_str());
    daemon.await_running(&env, "acme", REPAIR);

    // Limits changed: put back in place, without a restart.
    let started = c["State"]["StartedAt"].clone();
    assert!(docker(&["update", "--memory", "200m", "--memory-swap", "200m", &name]).status.success());
    let c = eventually("acme's memory limit to be put back to 64Mi", REPAIR, || {
        container(&env, "acme").filter(|c| c["HostConfig"]["Memory"] == 64 << 20)
    });
    assert_eq!(c["Id"], second.as_str());
    assert_eq!(c["State"]["StartedAt"], started);
    assert_eq!(instance_containers(&env), vec![name]);
}

#[test]
fn network_attachments_changed_behind_its_back_are_repaired_on_the_engines_event() {
    let Some(env) = Env::new("network_attachments_changed_behind_its_back_are_repaired_on_the_engines_event") else {
        return;
    };
    // As above: only the engine's event can explain a repair within the bound.
    env.write_config("[daemon]\nresync_interval = \"1h\"\n");
    env.spec("acme.yaml", &stub_spec("acme", "").replace("interval: 2s", "interval: 30s"));
    let daemon = Daemon::start(&env);
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let port = status["hostPort"].as_u64().unwrap() as u16;
    let (name, network) = (env.container("acme"), env.network("acme"));
    let before = container(&env, "acme").unwrap();

    assert!(docker(&["network", "disconnect", "-f", &network, &name]).status.success());
    let c = eventually("acme's container to be attached to its network again", REPAIR, || {
        container(&env, "acme").filter(|c| {
            c["NetworkSettings"]["Networks"][&network]["Aliases"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "runtime"))
        })
    });
    assert_eq!(c["Id"], before["Id"], "connected again, not recreated");
    assert_eq!(c["State"]["StartedAt"], before["State"]["StartedAt"], "and not restarted");
    eventually("the runtime to answer on its port again", REPAIR, || {
        (http_get(port, "/health") == Some(200)).then_some(())
    });

    // Put on the host's default bridge: taken off it again.
    assert!(docker(&["network", "connect", "bridge", &name]).status.success());
    let c = eventually("acme's container to be off the default bridge again", REPAIR, || {
        container(&env, "acme").filter(|c| c["NetworkSettings"]["Networks"].get("bridge").is_none())
    });
    assert_eq!(c["Id"], before["Id"]);
    assert_eq!(c["NetworkSettings"]["Networks"].as_object().unwrap().len(), 1, "{c}");
    assert_eq!(instance_containers(&env), vec![name]);
}

#[test]
fn a_runtime_that_stops_answering_is_restarted() {
    let Some(env) = Env::new("a_runtime_that_stops_answering_is_restarted") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let port = status["hostPort"].as_u64().unwrap() as u16;
    let before = container(&env, "acme").unwrap();

    // It holds every /health request without answering from now on.
    assert_eq!(http_post(port, "/control/health", "down"), Some(200));
    // Three missed probes 2 s apart, then a restart: ~6–8 s, with room for a busy machine.
    let status = eventually("tenantd to restart acme", Duration::from_secs(60), || {
        env.status("acme").filter(|s| s["supervisorRestarts"].as_u64().unwrap_or(0) >= 1)
    });
    assert_eq!(status["containerId"], before["Id"], "a restart keeps the container");
    let after = eventually("acme's container to run again after a restart", CONVERGE, || {
        container(&env, "acme")
            .filter(|c| c["State"]["Running"] == true && c["State"]["StartedAt"] != before["State"]["StartedAt"])
    });
    assert_eq!(after["Id"], before["Id"]);
    // The restarted stub starts healthy again, and the status says so.
    let status = daemon.await_running(&env, "acme", CONVERGE);
    assert!(status["supervisorRestarts"].as_u64().unwrap() >= 1, "{status}");
    assert!(daemon.logs().contains("runtime stayed unhealthy; restarting its container"));
}

#[test]
fn a_runtime_that_answers_503_is_restarted() {
    let Some(env) = Env::new("a_runtime_that_answers_503_is_restarted") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let port = status["hostPort"].as_u64().unwrap() as u16;
    let before = container(&env, "acme").unwrap();

    // It answers every /health request with 503 from now on: unhealthy, though it answers.
    assert_eq!(http_post(port, "/control/health", "degraded"), Some(200));
    assert_eq!(http_get(port, "/health"), Some(503));
    let status = eventually("tenantd to restart acme", Duration::from_secs(60), || {
        env.status("acme").filter(|s| s["supervisorRestarts"].as_u64().unwrap_or(0) >= 1)
    });
    assert_eq!(status["containerId"], before["Id"], "a restart keeps the container");
    // The restarted stub starts healthy again, and the status says so.
    let status = daemon.await_running(&env, "acme", CONVERGE);
    assert_eq!(status["health"], "healthy", "{status}");
    assert_eq!(http_get(port, "/health"), Some(200));
    assert!(daemon.logs().contains("runtime stayed unhealthy; restarting its container"), "{}", daemon.logs());
}

#[test]
fn an_oom_killed_runtime_comes_back_in_the_same_container() {
    let Some(env) = Env::new("an_oom_killed_runtime_comes_back_in_the_same_container") else {
        return;
    };
    env.write_config("[daemon]\nresync_interval = \"1h\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let port = status["hostPort"].as_u64().unwrap() as u16;
    let before = container(&env, "acme").unwrap();
    let since = engine_now();

    // Four times its 64 MiB limit: the kernel kills it (no answer comes back).
    let _ = http_post(port, "/control/memory", "256");
    eventually("the engine to report the OOM kill", CONVERGE, || {
        instance_events(&env, &since, &engine_now()).iter().any(|e| e.contains("oom")).then_some(())
    });
    let status = eventually("acme running again after the OOM kill", CONVERGE, || {
        let s = env.status("acme")?;
        (s["phase"] == "Running" && s["restartCount"].as_u64()? >= 1).then_some(s)
    });
    daemon.await_running(&env, "acme", CONVERGE);
    assert_eq!(status["containerId"], before["Id"], "the same container, its volume and network kept");
    assert_eq!(instance_containers(&env), [env.container("acme")]);
}
