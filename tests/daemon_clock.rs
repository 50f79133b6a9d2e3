//! The wall clock jumping (NTP stepping it, an operator setting it) changes nothing about when
//! `tenantd run` acts: the debounce of file changes and the retry backoff of a failing tenant
//! run on the monotonic clock. The daemon runs under libfaketime with only the wall clock faked
//! (DONT_FAKE_MONOTONIC), moved by the test through a timestamp file.

mod support;

use std::path::Path;
use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// An image tag made for one test, removed afterwards.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        docker(&["rmi", &self.0]);
    }
}

#[test]
fn debounce_and_backoff_ignore_wall_clock_jumps() {
    let Some(env) = Env::new("debounce_and_backoff_ignore_wall_clock_jumps") else {
        return;
    };
    if !Path::new(LIBFAKETIME).exists() {
        assert!(
            std::env::var("TENANTD_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "{LIBFAKETIME} is missing (apt-get install faketime)"
        );
        eprintln!("SKIPPED: {LIBFAKETIME} is missing (apt-get install faketime)");
        return;
    }
    let clock = env.path("faketime");
    let set_clock = |offset: &str| std::fs::write(&clock, format!("{offset}\n")).unwrap();
    set_clock("+0");
    env.write_config("[daemon]\ndebounce = \"300ms\"\nresync_interval = \"1h\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // beta's image does not exist yet: its apply fails and is retried after a backoff of 10 s.
    let tag = Tag(format!("tenantd-stub:clock-{}", env.instance));
    env.spec("beta.yaml", &stub_spec("beta", "").replace(&stub::stub_image(), &tag.0));
    let clock_path = clock.to_str().unwrap();
    let daemon = Daemon::start_with(
        &env,
        &[],
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", clock_path),
            ("FAKETIME_NO_CACHE", "1"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    daemon.await_running(&env, "acme", CONVERGE);
    daemon.wait_for_log("tenant did not converge", CONVERGE);
    let faked = env.status("acme").unwrap()["lastAppliedTime"].as_str().unwrap().to_string();

    // An hour back: were the debounce on the wall clock, this edit would wait an hour.
    set_clock("-3600");
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    eventually("acme's edit to be applied", CONVERGE, || {
        (container(&env, "acme")?["HostConfig"]["Memory"] == 96 << 20).then_some(())
    });
    // The status carries the faked wall clock: the jump really reached the daemon.
    let after = eventually("acme's status to follow the edit", CONVERGE, || {
        env.status("acme")
            .filter(|s| s["specHash"] == s["appliedHash"] && s["lastAppliedTime"].as_str() != Some(&faked))
    });
    assert!(after["lastAppliedTime"].as_str().unwrap() < faked.as_str(), "{after}");

    // beta's retry is due 10 s after its failure, whatever the wall clock says.
    assert!(docker(&["tag", &stub::stub_image(), &tag.0]).status.success());
    daemon.await_running(&env, "beta", CONVERGE);

    // A day ahead, then an edit: applied as promptly, and acme is not touched by it.
    set_clock("+86400");
    let id = container_id(&env, "acme");
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 80Mi"));
    eventually("acme's second edit to be applied", CONVERGE, || {
        (container(&env, "acme")?["HostConfig"]["Memory"] == 80 << 20).then_some(())
    });
    assert_eq!(container_id(&env, "acme"), id);
}
