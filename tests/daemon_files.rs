//! `tenantd run` under file churn: a spec deleted and written again within the debounce window
//! is no deletion, and a thousand files dropped into the directory at once are each accounted
//! for without holding back the valid tenants among them.

mod support;

use std::time::{Duration, Instant};

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn a_spec_deleted_and_written_again_within_the_debounce_window_is_no_deletion() {
    let Some(env) = Env::new("a_spec_deleted_and_written_again_within_the_debounce_window_is_no_deletion") else {
        return;
    };
    env.write_config("[daemon]\ndebounce = \"1s\"\nresync_interval = \"1h\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let id = container_id(&env, "acme").unwrap();
    let started = container(&env, "acme").unwrap()["State"]["StartedAt"].clone();
    let network_id = network(&env, "acme").unwrap()["Id"].clone();

    // As a deploy tool that deletes and then writes anew does: the same content, then an edit.
    for (yaml, memory) in
        [(stub_spec("acme", ""), 64 << 20), (stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"), 96 << 20)]
    {
        let at = Instant::now();
        env.remove_spec("acme.yaml");
        env.spec("acme.yaml", &yaml);
        assert!(at.elapsed() < Duration::from_millis(500), "the test wrote within the window");
        let c = eventually("acme's memory limit", CONVERGE, || {
            container(&env, "acme").filter(|c| c["HostConfig"]["Memory"] == memory)
        });
        assert_eq!(c["Id"], id.as_str(), "the same container");
        assert_eq!(c["State"]["StartedAt"], started, "never stopped");
        daemon.await_running(&env, "acme", CONVERGE);
    }
    assert_eq!(network(&env, "acme").unwrap()["Id"], network_id, "the same network");
    assert_eq!(instance_containers(&env), [env.container("acme")]);
}

#[test]
fn a_thousand_files_dropped_at_once_are_each_accounted_for() {
    let Some(env) = Env::new("a_thousand_files_dropped_at_once_are_each_accounted_for") else {
        return;
    };
    let mut daemon = Daemon::start(&env);
    // Written elsewhere and moved in with one rename each, back to back, as a config tool does.
    let staging = env.path("staging");
    std::fs::create_dir(&staging).unwrap();
    let valid: Vec<String> = (0..8).map(|i| format!("ok{i}")).collect();
    let mut names = valid.clone();
    for name in &valid {
        std::fs::write(staging.join(format!("{name}.yaml")), stub_spec(name, "")).unwrap();
    }
    for i in 0..992 {
        let name = format!("bad{i:03}");
        // A schema violation: memory that is not a quantity.
        std::fs::write(
            staging.join(format!("{name}.yaml")),
            stub_spec(&name, "").replace("memory: 64Mi", "memory: lots"),
        )
        .unwrap();
        names.push(name);
    }
    for e in std::fs::read_dir(&staging).unwrap().flatten() {
        std::fs::rename(e.path(), env.tenants.join(e.file_name())).unwrap();
    }

    for name in &valid {
        daemon.await_running(&env, name, Duration::from_secs(90));
    }
    eventually("a status file for every tenant", Duration::from_secs(60), || {
        names.iter().all(|n| env.status(n).is_some()).then_some(())
    });
    for name in names.iter().filter(|n| n.starts_with("bad")) {
        let s = env.status(name).unwrap();
        assert_eq!(s["phase"], "Invalid", "{s}");
        assert!(s["lastError"].as_str().unwrap().contains("/spec/resources/memory"), "{s}");
    }
    let mut expected: Vec<String> = valid.iter().map(|n| env.container(n)).collect();
    expected.sort();
    assert_eq!(instance_containers(&env), expected, "containers for the valid ones only");
    assert!(daemon.is_running());
}
