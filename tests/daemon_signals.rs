//! `tenantd run` and its signals and state lock: SIGHUP reloads the config (and refuses a bad
//! one), SIGTERM drains in-flight work and leaves tenants running, and only one tenantd at a
//! time may own a state directory.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// A config like `Env::write_config` writes, with another tenants directory.
fn config_with_tenants_dir(env: &Env, tenants_dir: &std::path::Path) -> String {
    format!(
        "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {:?}\nport_range = [{}, {}]\n",
        tenants_dir, env.state, env.instance, env.ports.0, env.ports.1
    )
}

#[test]
fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let Some(env) = Env::new("sighup_applies_a_good_config_and_refuses_a_bad_one") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let acme = container_id(&env, "acme").unwrap();

    // A good change: the tenants move to another directory, which the daemon then watches.
    let moved = env.path("moved.d");
    std::fs::create_dir(&moved).unwrap();
    std::fs::copy(env.tenants.join("acme.yaml"), moved.join("acme.yaml")).unwrap();
    std::fs::write(&env.config, config_with_tenants_dir(&env, &moved)).unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("configuration reloaded", CONVERGE);

    // A bad one: refused, and the daemon carries on with the good one.
    std::fs::write(&env.config, "tenants_dir = [this is not toml\n").unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("new configuration refused", CONVERGE);
    assert!(daemon.is_running(), "a bad config must not stop the daemon:\n{}", daemon.logs());

    // A spec added to the directory of the reloaded config is converged; one added to the old
    // directory is not (it would have been, had the bad config or the old one been in force).
    std::fs::write(env.tenants.join("stale.yaml"), stub_spec("stale", "")).unwrap();
    std::fs::write(moved.join("beta.yaml"), stub_spec("beta", "")).unwrap();
    daemon.await_running(&env, "beta", CONVERGE);
    assert_eq!(env.status("beta").unwrap()["source"], moved.join("beta.yaml").display().to_string());
    assert!(container(&env, "stale").is_none() && env.status("stale").is_none(), "the old directory is not read");
    assert_eq!(container_id(&env, "acme").as_deref(), Some(acme.as_str()), "acme, in both, is left alone");
    assert_eq!(env.status("acme").unwrap()["phase"], "Running");
    assert_eq!(daemon.count_log("configuration reloaded"), 1);
    assert_eq!(daemon.count_log("new configuration refused"), 1);
    assert!(daemon.is_running());
}

#[test]
fn sigterm_drains_the_tenant_being_applied_and_a_restart_adopts_everything() {
    let Some(env) = Env::new("sigterm_drains_the_tenant_being_applied_and_a_restart_adopts_everything") else {
        return;
    };
    // The runtime starts unhealthy, so its apply waits for it (up to 2 s + 10 × 2 s) until the
    // test says otherwise.
    // Stop first: the runtime's own published port is what the test reaches it on.
    let slow = stub_spec("acme", "  rollout: { strategy: stopFirst }\n")
        .replace("retries: 3", "retries: 10")
        .replace("hello", "hello, STUB_HEALTH: down");
    let mut daemon = Daemon::start(&env);
    env.spec("acme.yaml", &slow);
    let c = await_container(&env, "acme", "acme's container to run", CONVERGE, |c| c["State"]["Running"] == true);
    let port: u16 = c["NetworkSettings"]["Ports"]["18789/tcp"][0]["HostPort"].as_str().unwrap().parse().unwrap();
    // The apply is still under way: the status written when it began says Pending.
    let status = env.status("acme").expect("a status written when the apply began");
    assert_eq!(status["phase"], "Pending", "{status:#}");

    daemon.signal("TERM");
    let line = daemon.wait_for_log("stopping; tenants keep running", CONVERGE);
    assert!(line.contains("in_flight=1"), "{line}");
    // The apply in flight is allowed to finish: the runtime turns healthy, the worker reports.
    // (Retried: a container the engine calls running may not be listening yet.)
    eventually("the runtime to take the switch to healthy", CONVERGE, || {
        (http_post(port, "/control/health", "ok") == Some(200)).then_some(())
    });
    // Within the 20 s drain, with room for a busy machine.
    let exit = daemon.wait_exit(Duration::from_secs(25));
    assert_eq!(exit.code(), Some(0), "{}", daemon.logs());
    assert!(!daemon.logs().contains("abandoning unfinished tenant work"), "{}", daemon.logs());
    let status = env.status("acme").expect("the drained apply wrote its status");
    assert_eq!(status["phase"], "Running", "{status:#}");
    let c = container(&env, "acme").unwrap();
    assert_eq!(c["State"]["Running"], true, "tenants keep running after the daemon stops");
    let acme = c["Id"].as_str().unwrap().to_string();

    // Started again, with another tenant added while it was down: the running one is adopted,
    // the new one created, and nothing exists twice.
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "beta", CONVERGE);
    daemon.await_running(&env, "acme", CONVERGE);
    assert_eq!(container_id(&env, "acme").as_deref(), Some(acme.as_str()));
    assert_eq!(instance_containers(&env), vec![env.container("acme"), env.container("beta")]);
    assert_eq!(instance_networks(&env), vec![env.network("acme"), env.network("beta")]);
}

#[test]
fn one_tenantd_per_state_directory() {
    let Some(env) = Env::new("one_tenantd_per_state_directory") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let mut first = Daemon::start(&env);
    first.await_running(&env, "acme", CONVERGE);
    let acme = container_id(&env, "acme").unwrap();

    let mut second = Daemon::spawn(&env, &[], &[]);
    let exit = second.wait_exit(CONVERGE);
    assert!(!exit.success(), "a second daemon must not run: {exit:?}");
    assert!(second.logs().contains("holds the state directory lock"), "{}", second.logs());

    // Changed by hand, then applied by hand: refused while the daemon runs.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 80Mi"));
    let apply = env.tenantd(&["apply"]);
    assert!(!apply.status.success(), "apply must be refused");
    assert!(stderr(&apply).contains("holds the state directory lock"), "{}", stderr(&apply));

    // The daemon is the one that applies it; nothing else was created.
    await_container(&env, "acme", "the daemon to apply the memory change", CONVERGE, |c| {
        c["HostConfig"]["Memory"] == 80 << 20
    });
    assert_eq!(container_id(&env, "acme").as_deref(), Some(acme.as_str()));
    assert_eq!(instance_containers(&env), vec![env.container("acme")]);
    assert!(first.is_running());
}

#[test]
fn sighup_refuses_an_instance_it_cannot_switch_to() {
    let Some(env) = Env::new("sighup_refuses_an_instance_it_cannot_switch_to") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let acme = container_id(&env, "acme").unwrap();

    // The engine connection is scoped to the instance it started with; another instance needs a
    // restart, and a reload that claimed it would rename and relabel tenants half-way.
    let other = format!("{}z", env.instance);
    let text = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(&format!("instance = {:?}", env.instance), &format!("instance = {other:?}"));
    std::fs::write(&env.config, text).unwrap();
    daemon.signal("HUP");
    let refused = daemon.wait_for_log("new configuration refused", CONVERGE);
    assert!(refused.contains("instance"), "{refused}");

    // Still at work under its own instance: a change is applied there, and nothing of the other
    // instance appears.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 80Mi"));
    let c = await_container(&env, "acme", "the memory change to be applied", CONVERGE, |c| {
        c["HostConfig"]["Memory"] == 80 << 20
    });
    assert_eq!(c["Id"], acme.as_str());
    assert_eq!(c["Name"], format!("/{}", env.container("acme")));
    assert_eq!(instance_containers(&env), vec![env.container("acme")]);
    let stray = stdout(&docker(&["ps", "-a", "--filter", &format!("name={other}_"), "--format", "{{.Names}}"]));
    assert!(stray.trim().is_empty(), "{stray}");
    assert!(daemon.is_running());
}
