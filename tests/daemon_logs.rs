//! Logs read well in every place they go and tell what happens to tenants: a terminal gets
//! timestamps; the journal (which stamps every line itself) gets none, and each line's priority
//! as sd-daemon(3)'s `<N>` prefix so `journalctl -p` filters by level; `--log-format json` gives
//! one JSON object per line; a tenant's spec turning invalid is one warning naming the tenant and
//! the file and line.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

fn starts_with_timestamp(line: &str) -> bool {
    // tracing's default timestamp: 2026-11-22T10:31:00.123456Z
    let b = line.as_bytes();
    b.len() > 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

/// A spec of `acme` that is valid YAML but asks for a memory size that is none, and the number
/// of that line.
fn invalid_acme() -> (String, usize) {
    let spec = stub_spec("acme", "").replace("memory: 64Mi", "memory: lots");
    let line = spec.lines().position(|l| l.contains("memory: lots")).expect("the memory line") + 1;
    (spec, line)
}

#[test]
fn journal_lines_carry_their_priority_and_no_timestamp_and_other_lines_a_timestamp() {
    let Some(env) = Env::new("journal_lines_carry_their_priority_and_no_timestamp_and_other_lines_a_timestamp") else {
        return;
    };
    env.write_config("[daemon]\nresync_interval = \"1s\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let terminal = Daemon::start(&env);
    let line = terminal.wait_for_log(RUNNING_LINE, STARTUP);
    assert!(starts_with_timestamp(&line), "terminal line without a timestamp: {line:?}");
    drop(terminal);

    // JOURNAL_STREAM inherited, but stderr is not the journal's stream: not the journal.
    let elsewhere = Daemon::start_with(&env, &[], &[("JOURNAL_STREAM", "8:12345")]);
    let line = elsewhere.wait_for_log(RUNNING_LINE, STARTUP);
    assert!(starts_with_timestamp(&line), "stderr is a file, not the journal: {line:?}");
    drop(elsewhere);

    let journal = Daemon::start_under_journald(&env, &[]);
    journal.await_running(&env, "acme", CONVERGE);
    env.spec("acme.yaml", &invalid_acme().0);
    journal.wait_for_log("tenant spec is invalid", CONVERGE);
    let stderr = journal.stderr();
    let running = stderr.lines().find(|l| l.contains(RUNNING_LINE)).unwrap();
    assert!(running.starts_with("<6> INFO ") && !starts_with_timestamp(&running[3..]), "{running:?}");
    let invalid = stderr.lines().find(|l| l.contains("tenant spec is invalid")).unwrap();
    assert!(invalid.starts_with("<4> WARN "), "{invalid:?}");
    // Every line carries its priority: info 6, warning 4, error 3.
    for line in stderr.lines() {
        let level = line.get(3..).unwrap_or_default().split_whitespace().next().unwrap_or_default();
        let prefix = match level {
            "INFO" => "<6>",
            "WARN" => "<4>",
            "ERROR" => "<3>",
            _ => panic!("a line with no level where it belongs: {line:?}\n{stderr}"),
        };
        assert!(line.starts_with(prefix), "{line:?}");
    }
}

#[test]
fn an_invalid_spec_is_logged_once_as_a_warning_naming_the_tenant_and_the_file_and_line() {
    let Some(env) = Env::new("an_invalid_spec_is_logged_once_as_a_warning_naming_the_tenant_and_the_file_and_line")
    else {
        return;
    };
    env.write_config("[daemon]\nresync_interval = \"1s\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // Debug lines of the controller say when a resync read the specs.
    let daemon = Daemon::start_with(&env, &[], &[("TENANTD_LOG", "info,tenantd::daemon::controller=debug")]);
    daemon.await_running(&env, "acme", CONVERGE);
    let (invalid, line) = invalid_acme();
    env.spec("acme.yaml", &invalid);
    let file_line = format!("{}:{line}:", env.tenants.join("acme.yaml").display());
    let line = daemon.wait_for_log("tenant spec is invalid", CONVERGE);
    for part in [" WARN ", "tenant=acme", "phase=Invalid", "from=Running", file_line.as_str()] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
    // Resyncs every second find the same invalid spec: nothing more to say about it.
    let resyncs_before = daemon.count_log("spec files read");
    daemon.await_phase(&env, "acme", "Invalid", CONVERGE);
    eventually("three more resyncs", CONVERGE, || {
        (daemon.count_log("spec files read") >= resyncs_before + 3).then_some(())
    });
    assert_eq!(daemon.count_log("tenant spec is invalid"), 1, "{}", daemon.logs());

    // Fixed: back to running, said once at info.
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let line = daemon.wait_for_log("tenant is running tenant=acme phase=Running from=Invalid", CONVERGE);
    assert!(line.contains(" INFO "), "{line:?}");
}

#[test]
fn json_log_lines_are_one_object_each() {
    let Some(env) = Env::new("json_log_lines_are_one_object_each") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start_with(&env, &["--log-format", "json"], &[]);
    daemon.await_running(&env, "acme", CONVERGE);
    let stderr = daemon.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l:?}")))
        .collect();
    let running = lines.iter().find(|v| v["message"] == RUNNING_LINE).expect("the running line");
    assert_eq!(running["level"], "INFO");
    assert!(running["timestamp"].is_string() && running["instance"] == env.instance.as_str(), "{running}");
    let transition = lines.iter().find(|v| v["message"] == "tenant is running").expect("acme's transition");
    assert_eq!((transition["tenant"].as_str(), transition["phase"].as_str()), (Some("acme"), Some("Running")));
}
