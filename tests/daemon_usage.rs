//! `tenantd run` samples the resource use of each running tenant into its status file: no
//! resource pressure for an idle runtime, a `ResourcePressure` condition for one that stays near
//! its memory limit.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn the_status_file_carries_sampled_usage_and_no_pressure() {
    let Some(env) = Env::new("the_status_file_carries_sampled_usage_and_no_pressure") else {
        return;
    };
    env.write_config("[daemon]\nstats_interval = \"1s\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);

    let status = eventually("a usage sample of acme", Duration::from_secs(20), || {
        env.status("acme").filter(|s| s["usage"]["memoryBytes"].as_u64().is_some_and(|m| m > 0))
    });
    let usage = &status["usage"];
    assert_eq!(usage["memoryLimitBytes"], 64u64 << 20, "the 64Mi limit of the spec: {status}");
    assert!(usage["memoryBytes"].as_u64().unwrap() < 64 << 20, "{status}");
    assert!(usage["cpuPercent"].as_f64().is_some_and(|c| c >= 0.0), "{status}");
    let pressure = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "ResourcePressure"))
        .unwrap_or_else(|| panic!("no ResourcePressure condition: {status}"));
    assert_eq!(pressure["status"], false, "{status}");
    assert_eq!(pressure["reason"], "Normal", "{status}");
}

#[test]
fn a_runtime_that_stays_near_its_memory_limit_is_reported_under_pressure() {
    let Some(env) = Env::new("a_runtime_that_stays_near_its_memory_limit_is_reported_under_pressure") else {
        return;
    };
    env.write_config("[daemon]\nstats_interval = \"1s\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    let running = daemon.await_running(&env, "acme", CONVERGE);
    let port = running["hostPort"].as_u64().expect("a host port") as u16;

    // 58 MiB held on top of the runtime itself: above 90 % of the 64Mi limit, below the limit.
    assert_eq!(http_post(port, "/control/memory", "58"), Some(200));
    let status = eventually("acme's ResourcePressure condition to turn true", Duration::from_secs(30), || {
        env.status("acme").filter(|s| pressure(s)["status"] == true)
    });
    let condition = pressure(&status);
    assert_eq!(condition["reason"], "HighUsage", "{status}");
    let message = condition["message"].as_str().unwrap_or_default();
    assert!(message.contains("memory at 9") && message.contains("% of its limit"), "{status}");
    assert!(status["usage"]["memoryBytes"].as_u64().unwrap() > 58 << 20, "{status}");
    // Pressure is reported, not acted on: the runtime keeps running in the same container.
    assert_eq!(status["phase"], "Running", "{status}");
    assert_eq!(status["containerId"], running["containerId"], "{status}");
}

fn pressure(status: &serde_json::Value) -> serde_json::Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "ResourcePressure"))
        .cloned()
        .unwrap_or_else(|| panic!("no ResourcePressure condition: {status}"))
}
