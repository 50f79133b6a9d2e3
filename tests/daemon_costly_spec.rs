//! One spec file that is as costly to read as the size limit allows never holds up the others:
//! `tenantd run` still converges an edit of another tenant, repairs another tenant's stopped
//! container, and stops promptly on SIGTERM.

mod support;

use std::time::{Duration, Instant};

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);
/// Generous bounds for what must be prompt; the measured figures are printed (BENCHMARKS.md).
const PROMPT: Duration = Duration::from_secs(20);
/// `tenantd run` gives in-flight work up to 20 s after SIGTERM (README, "Signals").
const STOP: Duration = Duration::from_secs(25);
const SIZE_LIMIT: usize = 1 << 20;

fn head(name: &str) -> String {
    format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{ name: {name} }}\nspec: ")
}

/// A spec whose `spec` is nesting that fills the file to the size limit: `open` repeated, then
/// `close` repeated.
fn nesting_bomb(name: &str, open: &str, close: &str) -> String {
    let head = head(name);
    let n = (SIZE_LIMIT - head.len() - 1) / (open.len() + close.len());
    format!("{head}{}{}\n", open.repeat(n), close.repeat(n))
}

/// A spec whose `spec` is one line of as many unknown fields as the size limit holds: the
/// costliest file to find invalid known.
fn unknown_fields(name: &str) -> String {
    let mut text = format!("{}{{", head(name));
    let mut i = 0;
    while text.len() < SIZE_LIMIT - 32 {
        text.push_str(&format!("k{i}: 1, "));
        i += 1;
    }
    text.push_str("image: x}\n");
    text
}

#[test]
fn a_costly_spec_file_delays_neither_other_tenants_nor_sigterm() {
    let Some(env) = Env::new("a_costly_spec_file_delays_neither_other_tenants_nor_sigterm") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    daemon.await_running(&env, "beta", CONVERGE);

    let flow = nesting_bomb("flow", "[", "]");
    let mapping = nesting_bomb("mapping", "{a: ", "}");
    let keys = unknown_fields("keys");
    assert!([&flow, &mapping, &keys].iter().all(|f| f.len() <= SIZE_LIMIT));
    env.spec("flow.yaml", &flow);
    env.spec("mapping.yaml", &mapping);
    env.spec("keys.yaml", &keys);

    // An edit of another tenant right behind them converges as if they were not there.
    let started = Instant::now();
    env.spec("beta.yaml", &stub_spec("beta", "").replace("GREETING: hello", "GREETING: edited"));
    await_container(&env, "beta", "beta's container to carry the edited env", PROMPT, |c| {
        c["State"]["Running"] == true
            && c["Config"]["Env"].as_array().is_some_and(|e| e.iter().any(|v| v == "GREETING=edited"))
    });
    let edit = started.elapsed();
    daemon.await_running(&env, "beta", CONVERGE);

    // Each costly file is its own tenant's problem, said where it is.
    for tenant in ["flow", "mapping", "keys"] {
        let s = daemon.await_phase(&env, tenant, "Invalid", PROMPT);
        let error = s["lastError"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("{tenant}.yaml:4:")), "{tenant}: {error}");
    }

    // Another tenant stopped behind tenantd's back is started again.
    let acme = container_id(&env, "acme").unwrap();
    let started = Instant::now();
    assert!(docker(&["stop", "-t", "1", &env.container("acme")]).status.success());
    await_container(&env, "acme", "acme's container to run again", PROMPT, |c| c["State"]["Running"] == true);
    let repair = started.elapsed();
    assert_eq!(container_id(&env, "acme").unwrap(), acme);

    // The costly files are read again (changed), and SIGTERM comes meanwhile.
    env.spec("flow.yaml", &flow.replace("name: flow", "name: flow "));
    env.spec("mapping.yaml", &mapping.replace("name: mapping", "name: mapping "));
    let started = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(STOP);
    let stop = started.elapsed();
    assert!(status.success(), "exit status {status:?}; logs:\n{}", daemon.logs());
    eprintln!(
        "with three costly 1 MiB files in tenants.d: env edit of another tenant converged in {} ms, a stopped \
         container restarted in {} ms, SIGTERM exited in {} ms",
        edit.as_millis(),
        repair.as_millis(),
        stop.as_millis()
    );
    // Tenants keep running when tenantd stops.
    assert_eq!(container(&env, "acme").unwrap()["State"]["Running"], true);
    assert_eq!(container(&env, "beta").unwrap()["State"]["Running"], true);
}
