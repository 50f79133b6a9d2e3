//! `tenantd run` samples the resource use of each running tenant into its status file, and
//! reports no resource pressure for an idle runtime.

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
