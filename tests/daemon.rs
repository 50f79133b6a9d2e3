//! `tenantd run` follows the tenants directory: files created, edited, removed, half-written or
//! swapped while it runs are converged onto the engine without a manual apply, and events the
//! kernel dropped (a watch queue overflow) lead to a full rescan.

mod support;

use std::io::Write;
use std::time::Duration;

use support::daemon::*;
use support::*;

/// Generous for a 2-core machine running other tests; a converged tenant usually takes ~1 s.
const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn specs_created_edited_and_removed_while_running_are_converged() {
    let Some(env) = Env::new("specs_created_edited_and_removed_while_running_are_converged") else {
        return;
    };
    // beta stays put throughout: the changes to acme must never touch it.
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let daemon = Daemon::start(&env);
    let beta = daemon.await_running(&env, "beta", CONVERGE);

    // Created.
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let first = container_id(&env, "acme").expect("acme's container");
    assert_eq!(status["containerId"], first.as_str());
    assert_eq!(status["source"], env.tenants.join("acme.yaml").display().to_string());
    assert!(network(&env, "acme").is_some(), "acme's own network");
    let line = daemon.wait_for_log("tenant converged tenant=acme", CONVERGE);
    assert!(line.contains("change=Create"), "the journal says what was done: {line}");

    // Memory edited: updated in place, same container, no restart.
    let started = container(&env, "acme").unwrap()["State"]["StartedAt"].clone();
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    let c = eventually("acme's memory limit to become 96Mi", CONVERGE, || {
        container(&env, "acme").filter(|c| c["HostConfig"]["Memory"] == 96 << 20)
    });
    assert_eq!(c["Id"], first.as_str(), "a memory change must keep the container");
    assert_eq!(c["State"]["StartedAt"], started, "a memory change must not restart the container");
    assert_eq!(c["HostConfig"]["MemorySwap"], 96 << 20);

    // Env edited: replaced by a new, healthy container on the same host port.
    let port = status["hostPort"].as_u64().unwrap();
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi").replace("hello", "bonjour"));
    let second = eventually("acme's container to be replaced", CONVERGE, || {
        container_id(&env, "acme").filter(|id| *id != first)
    });
    let status = eventually("acme running in its new container", CONVERGE, || {
        env.status("acme").filter(|s| s["containerId"] == second.as_str() && s["phase"] == "Running")
    });
    assert_eq!(status["hostPort"].as_u64().unwrap(), port, "a replaced tenant keeps its host port");
    assert_eq!(http_get(port as u16, "/health"), Some(200));
    let env_vars = container(&env, "acme").unwrap()["Config"]["Env"].to_string();
    assert!(env_vars.contains("GREETING=bonjour"), "{env_vars}");
    assert!(
        !instance_containers(&env).iter().any(|n| n.ends_with(".previous")),
        "no container set aside is left: {:?}",
        instance_containers(&env)
    );

    // Removed: containers and network go, the volume stays.
    env.remove_spec("acme.yaml");
    daemon.await_phase(&env, "acme", "Removed", CONVERGE);
    eventually("acme's container and network to be gone", CONVERGE, || {
        (container(&env, "acme").is_none() && network(&env, "acme").is_none()).then_some(())
    });
    assert!(env.inspect(&env.volume("acme", "data")).is_some(), "the volume must be kept");

    let beta_now = env.status("beta").unwrap();
    assert_eq!(beta_now["phase"], "Running");
    assert_eq!(beta_now["containerId"], beta["containerId"], "beta was never touched");
    assert_eq!(instance_containers(&env), vec![env.container("beta")]);
}

#[test]
fn a_half_written_file_waits_and_a_swapped_file_keeps_its_container() {
    let Some(env) = Env::new("a_half_written_file_waits_and_a_swapped_file_keeps_its_container") else {
        return;
    };
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "beta", CONVERGE);

    // An editor or a copy that writes in place: the reader may see the first half.
    let full = stub_spec("acme", "");
    let cut = full.find("GREETING").expect("the spec has an env") + 4;
    let path = env.tenants.join("acme.yaml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&full.as_bytes()[..cut]).unwrap();
    file.flush().unwrap();
    let invalid = daemon.await_phase(&env, "acme", "Invalid", CONVERGE);
    assert!(invalid["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{invalid}");
    assert!(container(&env, "acme").is_none(), "nothing is created from half a file");

    file.write_all(&full.as_bytes()[cut..]).unwrap();
    file.flush().unwrap();
    drop(file);
    daemon.await_running(&env, "acme", CONVERGE);
    let id = container_id(&env, "acme").unwrap();

    // Removed and written again at once (as `rm` then `cp`, or a non-atomic deploy): the
    // debounced reader sees a file that is still there, so nothing is torn down. The new file
    // also changes memory, so its update shows that the daemon did read it.
    let since = engine_now();
    env.remove_spec("acme.yaml");
    env.spec("acme.yaml", &full.replace("memory: 64Mi", "memory: 80Mi"));
    let c = eventually("acme's memory limit to become 80Mi", CONVERGE, || {
        container(&env, "acme").filter(|c| c["HostConfig"]["Memory"] == 80 << 20)
    });
    assert_eq!(c["Id"], id.as_str(), "the container must survive its file being swapped");
    daemon.await_running(&env, "acme", CONVERGE);
    let events = instance_events(&env, &since, &engine_now());
    assert!(
        !events.iter().any(|e| e.starts_with("destroy") || e.starts_with("create") || e.starts_with("kill")),
        "no teardown: {events:?}"
    );
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()));
}

#[test]
fn a_watch_queue_overflow_leads_to_a_full_rescan() {
    let Some(env) = Env::new("a_watch_queue_overflow_leads_to_a_full_rescan") else {
        return;
    };
    // No periodic resync during the test: only the rescan can find the late spec.
    env.write_config("[daemon]\nresync_interval = \"1h\"\n");
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let daemon = Daemon::start_with(&env, &[], &[("TENANTD_LOG", "tenantd=debug")]);
    daemon.await_running(&env, "beta", CONVERGE);

    // Reading a file in the directory makes events that never mean a change (open,
    // close-without-write); the daemon ignores them. With the daemon stopped, the kernel queues
    // them until its queue is full and then drops every further event, leaving one overflow
    // marker. The spec written last is among the dropped events, so only the marker can lead
    // the daemon to it.
    let queue: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .expect("inotify limits are readable")
        .trim()
        .parse()
        .expect("a number");
    let noise = [env.tenants.join("notes-a.txt"), env.tenants.join("notes-b.txt")];
    for n in &noise {
        std::fs::write(n, b"not a spec").unwrap();
    }
    // Let the daemon take in the creation of the notes first.
    let passes = daemon.count_log("spec files read");
    eventually("the notes' events to be taken in", CONVERGE, || {
        (daemon.count_log("spec files read") > passes).then_some(())
    });
    daemon.signal("STOP");
    // Alternating between two files: the kernel merges an event only with an identical last one.
    // Each read makes several events; twice the queue's length in reads leaves a wide margin.
    for i in 0..queue * 2 {
        std::fs::read(&noise[i % 2]).unwrap();
    }
    env.spec("late.yaml", &stub_spec("late", ""));
    daemon.signal("CONT");

    daemon.wait_for_log("kernel queue overflow", CONVERGE);
    daemon.await_running(&env, "late", CONVERGE);
    assert_eq!(env.status("beta").unwrap()["phase"], "Running");
}
