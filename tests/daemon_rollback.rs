//! A replacement that never becomes healthy is rolled back to the container it replaced, and the
//! same spec is not tried again until it changes.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn an_unhealthy_replacement_is_rolled_back_and_not_retried() {
    let Some(env) = Env::new("an_unhealthy_replacement_is_rolled_back_and_not_retried") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let original = container_id(&env, "acme").unwrap();
    let port = status["hostPort"].as_u64().unwrap() as u16;
    let good_hash = status["specHash"].clone();

    // The new container never answers /health: its health budget (2 s start period + 3 × 2 s)
    // runs out, and the original comes back.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: hello, STUB_HEALTH: down"));
    // Rolled back, and then the restored container probed healthy: that probe must not pass off
    // the rolled-back spec as applied, nor the tenant as plain Running.
    let status = eventually("acme rolled back, its restored runtime probed healthy", Duration::from_secs(60), || {
        env.status("acme").filter(|s| s["phase"] == "RolledBack" && s["health"] == "healthy")
    });
    let reason = status["lastError"].as_str().unwrap_or_default();
    assert!(reason.contains("did not become healthy"), "{status:#}");
    assert_eq!(status["rolledBack"]["specHash"], status["specHash"], "{status:#}");
    assert_ne!(status["specHash"], good_hash);
    assert_eq!(status["appliedHash"], good_hash, "what runs is still the last good spec: {status:#}");
    assert_eq!(status["containerId"], original.as_str());

    let c = container(&env, "acme").expect("the original container, back under its name");
    assert_eq!(c["Id"], original.as_str());
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["Name"], format!("/{}", env.container("acme")));
    assert_eq!(http_get(port, "/health"), Some(200));
    assert_eq!(instance_containers(&env), vec![env.container("acme")], "no container set aside or left over");

    // A full pass (a new file) plans again and still leaves the rolled-back spec alone.
    env.spec("beta.yaml", &stub_spec("beta", ""));
    daemon.await_running(&env, "beta", CONVERGE);
    let status = env.status("acme").unwrap();
    assert_eq!(status["phase"], "RolledBack", "{status}");
    assert_eq!(container_id(&env, "acme").as_deref(), Some(original.as_str()), "the rolled-back spec is not retried");
    assert_eq!(daemon.count_log("replacement rolled back"), 1, "{}", daemon.logs());

    // A changed spec is tried at once, and this one is healthy.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour"));
    let status = eventually("acme replaced by a healthy container", CONVERGE, || {
        env.status("acme").filter(|s| s["phase"] == "Running" && s["containerId"] != original.as_str())
    });
    assert!(status.get("rolledBack").is_none(), "{status}");
    assert_eq!(status["containerId"].as_str(), container_id(&env, "acme").as_deref());
    assert_eq!(http_get(status["hostPort"].as_u64().unwrap() as u16, "/health"), Some(200));
    assert_eq!(instance_containers(&env), vec![env.container("acme"), env.container("beta")]);
}

#[test]
fn a_replacement_under_way_is_pending_and_never_passed_off_as_running() {
    let Some(env) = Env::new("a_replacement_under_way_is_pending_and_never_passed_off_as_running") else {
        return;
    };
    // Stop first: the old runtime is stopped while the new one proves itself (start first, the
    // default, never stops it: tests/zero_downtime.rs).
    let stop_first = "  rollout: { strategy: stopFirst }\n";
    env.spec("acme.yaml", &stub_spec("acme", stop_first));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let original = container_id(&env, "acme").unwrap();

    // The new container answers /health with 503 until its budget (2 s + 3 × 2 s) runs out; the
    // old one is stopped meanwhile and comes back after.
    env.spec(
        "acme.yaml",
        &stub_spec("acme", stop_first).replace("GREETING: hello", "GREETING: hello, STUB_HEALTH: degraded"),
    );
    let mut phases_while_stopped: Vec<String> = Vec::new();
    let status = eventually("acme rolled back", Duration::from_secs(60), || {
        // The engine first, then the status: a status read after the original was seen stopped
        // was written knowing the replacement had begun.
        let original_stopped = env.inspect(&original).is_some_and(|c| c["State"]["Running"] == false);
        let s = env.status("acme")?;
        // Once rolled back, the original runs again: that verdict is the end, not the way.
        if original_stopped && s["phase"] != "RolledBack" {
            phases_while_stopped.push(format!("{}/{}", s["phase"], s["health"]));
        }
        (s["phase"] == "RolledBack").then_some(s)
    });
    assert!(!phases_while_stopped.is_empty(), "the original was never seen stopped: {status}");
    assert!(
        phases_while_stopped.iter().all(|p| !p.starts_with("\"Running\"") && !p.ends_with("\"healthy\"")),
        "while its runtime was being replaced, the status said: {phases_while_stopped:?}"
    );
    assert!(
        phases_while_stopped.iter().any(|p| p == "\"Pending\"/\"starting\""),
        "the status never said the tenant was on its way: {phases_while_stopped:?}"
    );
    assert_eq!(container_id(&env, "acme").as_deref(), Some(original.as_str()));
}
