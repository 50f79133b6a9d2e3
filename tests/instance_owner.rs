//! One state directory converges an instance: the engine records which (a marker object), a
//! second state directory configured with the same instance is refused by `plan`, `apply` and
//! `run` and touches nothing, and taking over is an explicit `tenantd take-over`. Against the
//! real Docker engine through the real binary, and against the fake Kubernetes API server.

mod fake_kube;
mod support;
mod support_kube;

use std::time::Duration;

use serde_json::Value;
use support::daemon::Daemon;
use support::*;

/// The ownership marker on the engine: its labels, or None when there is none.
fn marker(env: &Env) -> Option<Value> {
    let o = docker(&["volume", "inspect", &format!("{}_owner", env.instance)]);
    o.status.success().then(|| serde_json::from_slice::<Value>(&o.stdout).unwrap()[0]["Labels"].clone())
}

fn state_id(env: &Env) -> Option<String> {
    std::fs::read_to_string(env.state.join("state-id")).ok().map(|s| s.trim().to_string())
}

/// A second state directory (and tenants directory) configured for `first`'s instance.
fn second_of(first: &Env, test: &str) -> Env {
    let mut second = Env::new(test).expect("the engine answered a moment ago");
    second.instance = first.instance.clone();
    second.write_config("");
    second
}

#[test]
fn a_second_state_directory_of_one_instance_is_refused_until_it_takes_over() {
    let test = "a_second_state_directory_of_one_instance_is_refused_until_it_takes_over";
    let Some(first) = Env::new(test) else { return };
    first.spec("acme.yaml", &stub_spec("acme", ""));
    first.spec("beta.yaml", &stub_spec("beta", ""));
    first.apply_ok();
    let ids = [first.container_id("acme").unwrap(), first.container_id("beta").unwrap()];
    let owner = marker(&first).expect("apply records the owner");
    assert_eq!(owner["io.tenantd.owner-id"].as_str(), state_id(&first).as_deref());

    // Its own specs: to it, acme and beta would be orphans to delete.
    let second = second_of(&first, test);
    second.spec("gamma.yaml", &stub_spec("gamma", ""));
    let first_dir = std::fs::canonicalize(&first.state).unwrap().display().to_string();
    let refused = |o: &std::process::Output, what: &str| {
        assert_eq!(o.status.code(), Some(1), "{what}: {}{}", stdout(o), stderr(o));
        let err = stderr(o);
        assert!(
            err.contains(&format!("instance {} is converged by another state directory", first.instance)),
            "{what}: {err}"
        );
        assert!(err.contains(&first_dir) && err.contains("tenantd take-over"), "{what}: {err}");
        assert!(!stdout(o).contains("delete"), "{what}: {}", stdout(o));
    };
    refused(&second.tenantd(&["plan"]), "plan");
    refused(&second.tenantd(&["apply"]), "apply");
    let mut daemon = Daemon::spawn(&second, &[], &[]);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).code(), Some(1));
    assert!(daemon.logs().contains("is converged by another state directory"), "{}", daemon.logs());
    drop(daemon);

    // Nothing of the first was touched, nothing of the second made, the marker is the first's.
    assert_eq!([first.container_id("acme").unwrap(), first.container_id("beta").unwrap()], ids);
    assert!(first.inspect(&first.container("gamma")).is_none());
    assert_eq!(marker(&first).unwrap(), owner);
    assert_eq!(first.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(0));

    let took = second.tenantd(&["take-over"]);
    assert!(took.status.success(), "{}{}", stdout(&took), stderr(&took));
    assert!(stdout(&took).contains(&format!("from {first_dir} on ")), "{}", stdout(&took));
    assert_eq!(marker(&first).unwrap()["io.tenantd.owner-id"].as_str(), state_id(&second).as_deref());

    // Now the first is refused, and the second converges the instance its way.
    let plan = first.tenantd(&["plan"]);
    assert_eq!(plan.status.code(), Some(1));
    assert!(stderr(&plan).contains("is converged by another state directory"), "{}", stderr(&plan));
    let plan = second.tenantd(&["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));
    assert!(stdout(&plan).contains("- acme: delete") && stdout(&plan).contains("+ gamma: create"), "{}", stdout(&plan));
}

#[test]
fn plan_records_no_owner_and_an_instance_without_one_is_claimed_without_recreating_anything() {
    let Some(env) =
        Env::new("plan_records_no_owner_and_an_instance_without_one_is_claimed_without_recreating_anything")
    else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let plan = env.tenantd(&["plan"]);
    assert!(plan.status.success(), "{}{}", stdout(&plan), stderr(&plan));
    assert!(marker(&env).is_none(), "plan must not record an owner");
    assert!(state_id(&env).is_none(), "plan must not make the state directory's id");

    env.apply_ok();
    let id = env.container_id("acme").unwrap();
    // As a build without owner markers left it: objects, and no marker anywhere.
    assert!(docker(&["volume", "rm", &format!("{}_owner", env.instance)]).status.success());
    std::fs::remove_file(env.state.join("state-id")).unwrap();

    assert_eq!(env.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
    assert!(marker(&env).is_none());
    let out = env.apply_ok();
    assert!(out.contains("acme: unchanged"), "{out}");
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()));
    let owner = marker(&env).expect("the first apply records the owner");
    assert_eq!(owner["io.tenantd.owner-id"].as_str(), state_id(&env).as_deref());
    assert_eq!(owner["io.tenantd.instance"], env.instance.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_the_owner_is_a_namespace_and_a_second_state_directory_is_refused() {
    use support_kube::{expect_exit, registry_spec, Cluster};

    let c = Cluster::start(None).await;
    c.spec("acme.yaml", &registry_spec("acme", ""));
    let marker = format!("{}--owner", c.instance);
    expect_exit(&c.tenantd(&["plan"]), 0, "plan");
    assert!(c.fake.get("namespaces", None, &marker).is_none(), "plan must not record an owner");
    expect_exit(&c.tenantd(&["apply"]), 0, "apply");
    let ns = c.fake.get("namespaces", None, &marker).expect("the owner's namespace");
    let id = std::fs::read_to_string(c.state.join("state-id")).unwrap();
    assert_eq!(ns["metadata"]["annotations"]["io.tenantd.owner-id"], id.trim());
    assert_eq!(ns["metadata"]["labels"]["io.tenantd.instance"], c.instance.as_str());

    // A second state directory with no specs: it would delete acme.
    let other = c.path("other.toml");
    std::fs::write(
        &other,
        format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {:?}\nruntime = \"kubernetes\"\n\
             [kubernetes]\nkubeconfig = \"kubeconfig\"\n",
            c.path("other-tenants"),
            c.path("other-state"),
            c.instance
        ),
    )
    .unwrap();
    std::fs::create_dir_all(c.path("other-tenants")).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tenantd"));
        cmd.arg("--config").arg(&other).args(args).env_remove("CONTAINER_RUNTIME").env_remove("KUBECONFIG");
        tokio::task::block_in_place(|| cmd.output().unwrap())
    };
    c.fake.clear_calls();
    for args in [&["plan", "--allow-empty"][..], &["apply", "--allow-empty"]] {
        let o = run(args);
        expect_exit(&o, 1, &format!("{args:?} of a second state directory"));
        assert!(support_kube::stderr(&o).contains("is converged by another state directory"));
    }
    assert!(c.fake.writes().is_empty(), "a refused state directory wrote: {:?}", c.fake.writes());

    expect_exit(&run(&["take-over"]), 0, "take-over");
    let ns = c.fake.get("namespaces", None, &marker).unwrap();
    let other_id = std::fs::read_to_string(c.path("other-state/state-id")).unwrap();
    assert_eq!(ns["metadata"]["annotations"]["io.tenantd.owner-id"], other_id.trim());
    expect_exit(&c.tenantd(&["plan"]), 1, "the first state directory after the take-over");
    let plan = run(&["plan", "--allow-empty"]);
    expect_exit(&plan, 0, "the second state directory after the take-over");
    assert!(support_kube::stdout(&plan).contains("acme: delete"), "{}", support_kube::stdout(&plan));
}
