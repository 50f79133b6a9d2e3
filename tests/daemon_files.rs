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

#[test]
fn a_tenants_dir_unmounted_under_the_daemon_deletes_nothing() {
    let Some(env) = Env::new("a_tenants_dir_unmounted_under_the_daemon_deletes_nothing") else {
        return;
    };
    // The specs live on a mount over the tenants directory (as an NFS share or a config volume
    // would), then the mount goes away and the directory underneath is empty.
    let mounted =
        std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&env.tenants).output().unwrap();
    assert!(mounted.status.success(), "mount (needs root): {}", stderr(&mounted));
    let unmount = || std::process::Command::new("umount").arg("-l").arg(&env.tenants).output().unwrap();
    let write = |t: &str| std::fs::write(env.tenants.join(format!("{t}.yaml")), stub_spec(t, "")).unwrap();
    write("acme");
    write("beta");
    env.write_config("[daemon]\nresync_interval = \"1s\"\n");
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    daemon.await_running(&env, "beta", CONVERGE);
    let ids: Vec<Option<String>> = ["acme", "beta"].iter().map(|t| container_id(&env, t)).collect();

    assert!(unmount().status.success());
    daemon.wait_for_log("holds no tenant specs but 2 tenant(s) exist", CONVERGE);
    // Several resyncs later: nothing removed, nothing marked removed.
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        for (t, id) in ["acme", "beta"].iter().zip(&ids) {
            assert_eq!(&container_id(&env, t), id, "{t} was touched");
            assert_eq!(env.status(t).unwrap()["phase"], "Running");
        }
        assert!(daemon.is_running(), "{}", daemon.logs());
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every resync refused again, and said so once: the journal is not flooded.
    assert_eq!(daemon.count_log("holds no tenant specs"), 1, "{}", daemon.logs());

    // The specs back: the same containers, nothing recreated.
    write("acme");
    write("beta");
    for (t, id) in ["acme", "beta"].iter().zip(&ids) {
        daemon.await_running(&env, t, CONVERGE);
        assert_eq!(&container_id(&env, t), id);
    }
}

#[test]
fn a_file_no_tenant_can_be_told_from_is_logged_once_until_it_changes() {
    let Some(env) = Env::new("a_file_no_tenant_can_be_told_from_is_logged_once_until_it_changes") else {
        return;
    };
    env.write_config("[daemon]\nresync_interval = \"300ms\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // Debug, for the "spec files read" line of every pass.
    let daemon = Daemon::start_with(&env, &[], &[("TENANTD_LOG", "tenantd=debug")]);
    daemon.await_running(&env, "acme", CONVERGE);
    // Neither its name nor its content names a tenant.
    std::fs::write(env.tenants.join("New_Tenant.yaml"), "metadata: [ not, yaml\n").unwrap();
    let needle = "spec file cannot be attributed to a tenant";
    daemon.wait_for_log(needle, CONVERGE);
    let passes = daemon.count_log("spec files read");
    eventually("several more passes", CONVERGE, || (daemon.count_log("spec files read") >= passes + 5).then_some(()));
    assert_eq!(daemon.count_log(needle), 1, "{}", daemon.logs());
    std::fs::write(env.tenants.join("New_Tenant.yaml"), "metadata: { name: [ still broken ] }\n").unwrap();
    eventually("the changed error to be logged", CONVERGE, || (daemon.count_log(needle) == 2).then_some(()));
}
