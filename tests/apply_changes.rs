//! How changes to a spec reach the engine: in place, replaced, deleted, and drift corrected.

mod support;

use support::*;

#[test]
fn memory_change_updates_in_place_with_the_same_container() {
    let Some(env) = Env::new("memory_change_updates_in_place_with_the_same_container") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let id = env.container_id("acme").unwrap();
    let started = env.inspect(&env.container("acme")).unwrap()["State"]["StartedAt"].clone();

    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2));
    assert!(
        stdout(&plan).contains("update in place") && stdout(&plan).contains("memory 64Mi → 96Mi"),
        "{}",
        stdout(&plan)
    );
    let out = env.apply_ok();
    assert!(out.contains("acme: updated in place"), "{out}");

    let after = env.inspect(&env.container("acme")).unwrap();
    assert_eq!(after["Id"].as_str().unwrap(), id);
    assert_eq!(after["State"]["StartedAt"], started, "the container must not restart");
    assert_eq!(after["HostConfig"]["Memory"], 96 << 20);
    assert_eq!(env.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
}

#[test]
fn env_and_image_changes_replace_naming_the_field() {
    let Some(env) = Env::new("env_and_image_changes_replace_naming_the_field") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let first = env.container_id("acme").unwrap();
    let port = env.host_port("acme");

    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour"));
    let plan = env.tenantd(&["plan"]);
    assert!(stdout(&plan).contains("replace (start first, because of: env)"), "{}", stdout(&plan));
    assert!(
        stdout(&plan).contains("-  GREETING: hello") && stdout(&plan).contains("+  GREETING: bonjour"),
        "{}",
        stdout(&plan)
    );
    let out = env.apply_ok();
    assert!(out.contains("acme: replaced (env)"), "{out}");
    let second = env.container_id("acme").unwrap();
    assert_ne!(first, second);
    assert_eq!(env.host_port("acme"), port, "a replaced tenant keeps its host port");
    assert_eq!(http_get(port, "/health"), Some(200));

    // The same image under another name is an image change.
    let alt = format!("tenantd-stub:alt-{}", env.instance);
    assert!(docker(&["tag", &stub::stub_image(), &alt]).status.success());
    env.spec(
        "acme.yaml",
        &stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour").replace(&stub::stub_image(), &alt),
    );
    let plan = env.tenantd(&["plan", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(v["tenants"][0]["change"], "replace");
    assert_eq!(v["tenants"][0]["replaceFields"], serde_json::json!(["image"]));
    env.apply_ok();
    assert_ne!(env.container_id("acme").unwrap(), second);
    docker(&["rmi", &alt]);
}

#[test]
fn deleting_the_file_removes_containers_and_network_and_keeps_the_volume() {
    let Some(env) = Env::new("deleting_the_file_removes_containers_and_network_and_keeps_the_volume") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("beta.yaml", &stub_spec("beta", ""));
    env.apply_ok();
    let ingress_dir = env.state.join("ingress/acme");
    assert!(ingress_dir.join("backend").exists(), "acme's ingress forwards to its runtime");
    env.remove_spec("acme.yaml");
    let out = env.apply_ok();
    assert!(out.contains("acme: deleted (volumes kept)"), "{out}");
    assert!(env.inspect(&env.container("acme")).is_none());
    assert!(env.inspect(&format!("{}_ingress", env.container("acme"))).is_none());
    assert!(!ingress_dir.exists(), "the ingress directory goes with the tenant");
    assert!(env.inspect(&env.network("acme")).is_none());
    assert!(env.inspect(&env.volume("acme", "data")).is_some(), "the volume must be kept");
    assert_eq!(env.status("acme").unwrap()["phase"], "Removed");
    assert_eq!(env.status("beta").unwrap()["phase"], "Running");
}

#[test]
fn changes_behind_tenantds_back_are_corrected() {
    let Some(env) = Env::new("changes_behind_tenantds_back_are_corrected") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let name = env.container("acme");
    assert!(docker(&["update", "--memory", "200m", "--memory-swap", "200m", &name]).status.success());
    assert!(docker(&["stop", "-t", "1", &name]).status.success());
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", stdout(&plan));
    env.apply_ok();
    let v = env.inspect(&name).unwrap();
    assert_eq!(v["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(v["State"]["Running"], true);

    assert!(docker(&["rm", "-f", &name]).status.success());
    env.apply_ok();
    assert_eq!(http_get(env.host_port("acme"), "/health"), Some(200));
}

#[test]
fn a_second_apply_makes_no_mutating_call() {
    let Some(env) = Env::new("a_second_apply_makes_no_mutating_call") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let before = chrono_like_now();
    let out = env.apply_ok();
    assert!(out.contains("acme: unchanged"), "{out}");
    // The engine's event log shows no change to this instance's objects since (healthcheck
    // execs are the engine's own and are not counted).
    let filter = format!("label=io.tenantd.instance={}", env.instance);
    let mut args = vec!["events", "--since", &before];
    let until = chrono_like_now();
    args.extend(["--until", &until, "--filter", &filter]);
    for e in ["create", "destroy", "update", "start", "stop", "kill", "rename", "connect", "disconnect"] {
        args.extend(["--filter", leak(format!("event={e}"))]);
    }
    let events = docker(&args);
    assert!(stdout(&events).trim().is_empty(), "unexpected events: {}", stdout(&events));
}

fn chrono_like_now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn a_replacement_that_never_gets_healthy_is_rolled_back_and_not_retried() {
    let Some(env) = Env::new("a_replacement_that_never_gets_healthy_is_rolled_back_and_not_retried") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let original = env.container_id("acme").unwrap();
    let port = env.host_port("acme");

    let broken = stub_spec("acme", "").replace("GREETING: hello", "GREETING: hello, STUB_HEALTH: down");
    env.spec("acme.yaml", &broken);
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("acme: rolled back"), "{}", stdout(&o));
    assert_eq!(env.container_id("acme").as_deref(), Some(original.as_str()), "the original container is back");
    assert_eq!(env.inspect(&env.container("acme")).unwrap()["State"]["Running"], true);
    assert!(env.inspect(&format!("{}.previous", env.container("acme"))).is_none());
    assert_eq!(http_get(port, "/health"), Some(200));
    let s = env.status("acme").unwrap();
    assert_eq!(s["phase"], "RolledBack", "{s:#}");
    assert!(s["rolledBack"]["reason"].as_str().unwrap().contains("did not become healthy"), "{s:#}");

    // The same spec is not tried again…
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(env.container_id("acme").as_deref(), Some(original.as_str()));
    // …until it changes.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: fixed"));
    env.apply_ok();
    assert_ne!(env.container_id("acme").as_deref(), Some(original.as_str()));
    assert_eq!(env.status("acme").unwrap()["phase"], "Running");
}
