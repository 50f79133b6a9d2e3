//! A runtime that exits as soon as it starts ends in `CrashLoopBackOff`: the engine's own
//! restart policy gives up, tenantd starts it again with backoff, and the status says when the
//! next try is and why.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::daemon::*;
use support::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Five engine restarts with its own backoff, then tenantd's tries with backoff.
const CRASH_LOOP: Duration = Duration::from_secs(90);

#[test]
fn a_runtime_that_keeps_exiting_goes_into_crash_loop_backoff() {
    let Some(env) = Env::new("a_runtime_that_keeps_exiting_goes_into_crash_loop_backoff") else {
        return;
    };
    let (_daemon, status) = crash_loop(&env);
    let next = status["nextRetryTime"].as_str().unwrap_or_else(|| panic!("no nextRetryTime: {status}"));
    let next = OffsetDateTime::parse(next, &Rfc3339).expect("nextRetryTime is RFC 3339");
    // Read as soon as it was written: the retry it names must still lie ahead.
    assert!(next > OffsetDateTime::now_utc() - Duration::from_secs(1), "nextRetryTime {next} is in the past: {status}");
    assert!(status["lastError"].as_str().is_some_and(|e| !e.is_empty()), "no lastError: {status}");
    assert_eq!(status["health"], "down", "{status}");
    assert_eq!(condition(&status, "Converged")["status"], false, "{status}");
}

#[test]
fn crash_loop_backoff_names_the_exit_code() {
    let Some(env) = Env::new("crash_loop_backoff_names_the_exit_code") else {
        return;
    };
    let (_daemon, status) = crash_loop(&env);
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("code 2"), "lastError does not name the exit code: {status}");
}

#[test]
fn a_tenant_deleted_in_crash_loop_backoff_is_removed_at_once() {
    let Some(env) = Env::new("a_tenant_deleted_in_crash_loop_backoff_is_removed_at_once") else {
        return;
    };
    // Another tenant stays: a directory left with no spec at all deletes nothing.
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let (_daemon, _) = crash_loop(&env);
    // Deep enough in its backoff that the next try is a while off (the second wait is 20 s).
    let status = eventually("acme's next retry 15 s or more ahead", CRASH_LOOP, || {
        let s = env.status("acme").filter(|s| s["phase"] == "CrashLoopBackOff")?;
        let next = OffsetDateTime::parse(s["nextRetryTime"].as_str()?, &Rfc3339).ok()?;
        (next - OffsetDateTime::now_utc() >= Duration::from_secs(15)).then_some(s)
    });
    let next = OffsetDateTime::parse(status["nextRetryTime"].as_str().unwrap(), &Rfc3339).unwrap();
    env.remove_spec("acme.yaml");
    eventually("acme's container to be removed", Duration::from_secs(30), || {
        (instance_containers(&env) == [env.container("beta")]).then_some(())
    });
    // The backoff it was in ends with its spec: its status says Removed as soon as its container
    // is gone, not once the backoff would have run out (tens of seconds later).
    let status = eventually("acme's status to say Removed", Duration::from_secs(5), || {
        env.status("acme").filter(|s| s["phase"] == "Removed")
    });
    assert!(OffsetDateTime::now_utc() < next, "Removed only once the backoff ran out: {status}");
    assert!(status.get("nextRetryTime").is_none_or(Value::is_null), "no retry follows a removal: {status}");
    let listing = stdout(&env.tenantd(&["status"]));
    assert!(!listing.contains("CrashLoopBackOff"), "{listing}");
}

/// Starts a daemon with a tenant whose runtime exits with code 2 whenever it starts (the stub
/// rejects an unknown flag); returns the daemon and the first status in `CrashLoopBackOff`.
fn crash_loop(env: &Env) -> (Daemon, Value) {
    env.write_config("[daemon]\nresync_interval = \"2s\"\n");
    env.spec("acme.yaml", &stub_spec("acme", "  args: [\"--no-such-flag\"]\n"));
    let daemon = Daemon::start(env);
    // Every phase seen on the way, so a run that never gets there says where it went instead.
    let mut phases: Vec<String> = Vec::new();
    let status = eventually("acme in CrashLoopBackOff", CRASH_LOOP, || {
        let s = env.status("acme")?;
        let phase = s["phase"].as_str().unwrap_or("?").to_string();
        if phases.last() != Some(&phase) {
            eprintln!("acme: {phase} ({})", s["lastError"]);
            phases.push(phase.clone());
        }
        (phase == "CrashLoopBackOff").then_some(s)
    });
    (daemon, status)
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == kind)).unwrap_or(&Value::Null)
}
