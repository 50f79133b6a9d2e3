//! One worker per tenant: a tenant that takes long (its new runtime never gets healthy, so the
//! daemon waits out its health budget) never delays the others.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

#[test]
fn a_slow_tenant_never_delays_the_others() {
    let Some(env) = Env::new("a_slow_tenant_never_delays_the_others") else {
        return;
    };
    // slow's runtime never answers, and its health budget is 2 s + 3 × 10 s = 32 s.
    let slow = stub_spec("slow", "")
        .replace("GREETING: hello", "GREETING: hello, STUB_HEALTH: down")
        .replace("interval: 2s", "interval: 10s");
    env.spec("slow.yaml", &slow);
    let daemon = Daemon::start(&env);
    eventually("slow's container to be running", Duration::from_secs(30), || {
        container(&env, "slow").filter(|c| c["State"]["Running"] == true)
    });

    // While slow's worker waits on its health, a new tenant arrives and converges at once.
    env.spec("fast.yaml", &stub_spec("fast", ""));
    daemon.await_running(&env, "fast", Duration::from_secs(20));
    assert!(
        env.status("slow").is_none_or(|s| s["phase"] != "Failed"),
        "slow's health wait must still be going on, or this test proves nothing"
    );
}
