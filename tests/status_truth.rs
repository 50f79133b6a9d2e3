//! `tenantd status` and the status files say only what is known: each status shows its age,
//! `status` warns when no tenantd process keeps the files up to date (nothing holds the state
//! directory's lock), and a tenant tenantd cannot probe from the host (`egress: deny`) is
//! `Running` once it runs, with the engine's own health verdict. On the real filesystem and,
//! where tenants run, the real engine.

mod support;

use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// The line of `tenant` in a `status` table.
fn row<'a>(table: &'a str, tenant: &str) -> &'a str {
    table.lines().find(|l| l.starts_with(tenant)).unwrap_or_else(|| panic!("{tenant} in:\n{table}"))
}

#[test]
fn status_shows_each_age_and_warns_while_no_process_holds_the_state_lock() {
    let env = Env::without_docker();
    let dir = env.state.join("status");
    std::fs::create_dir_all(&dir).unwrap();
    let five_minutes_ago = (time::OffsetDateTime::now_utc() - time::Duration::minutes(5))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let acme = serde_json::json!({
        "formatVersion": 1, "tenant": "acme", "phase": "Running", "conditions": [], "health": "healthy",
        "restartCount": 0, "lastUpdateTime": five_minutes_ago,
    });
    std::fs::write(dir.join("acme.json"), acme.to_string()).unwrap();

    let out = env.tenantd(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    let header = table.lines().next().unwrap();
    let age_at = header.find("AGE").unwrap_or_else(|| panic!("an AGE column: {table}"));
    assert!(row(&table, "acme")[age_at..].starts_with("5m "), "{table}");
    let lock = env.state.join("tenantd.lock").display().to_string();
    for (what, text) in [("stderr", stderr(&out)), ("the table's last line", table.lines().last().unwrap().to_string())]
    {
        assert!(
            text.contains("no tenantd daemon is running") && text.contains(&lock) && text.contains("may be stale"),
            "{what}: {text}"
        );
        assert!(text.contains("tenantd plan"), "{what}: {text}");
    }
    let json = env.tenantd(&["status", "-o", "json"]);
    assert!(stderr(&json).contains("may be stale"), "{}", stderr(&json));
    let list: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("stdout stays JSON");
    assert_eq!(list[0]["lastUpdateTime"].as_str(), Some(five_minutes_ago.as_str()));

    // A process holding the lock keeps the statuses up to date: nothing to warn about.
    let held = tenantd::reconcile::StateLock::acquire(&env.state).unwrap();
    let out = env.tenantd(&["status"]);
    assert!(!stderr(&out).contains("stale") && !stdout(&out).contains("stale"), "{}{}", stdout(&out), stderr(&out));
    drop(held);
    // Having looked, `status` holds nothing: a daemon can take the lock.
    assert!(env.tenantd(&["status"]).status.success());
    tenantd::reconcile::StateLock::acquire(&env.state).expect("status left the lock free");
}

#[test]
fn a_stopped_daemon_and_an_edited_spec_show_as_possibly_stale_and_a_running_daemon_does_not() {
    let Some(env) =
        Env::new("a_stopped_daemon_and_an_edited_spec_show_as_possibly_stale_and_a_running_daemon_does_not")
    else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", stdout(&plan));
    let out = env.tenantd(&["status"]);
    assert!(row(&stdout(&out), "acme").contains("Running"), "what the file says: {}", stdout(&out));
    assert!(stderr(&out).contains("no tenantd daemon is running") && stderr(&out).contains("tenantd plan"));

    let daemon = Daemon::start(&env);
    eventually("the edit applied", CONVERGE, || {
        let s = env.status("acme")?;
        (s["specHash"] == s["appliedHash"] && s["generation"] == 2 && s["phase"] == "Running").then_some(())
    });
    let out = env.tenantd(&["status"]);
    assert!(!stderr(&out).contains("stale") && !stdout(&out).contains("stale"), "{}{}", stdout(&out), stderr(&out));
    drop(daemon);
}

#[test]
fn a_tenant_with_no_published_port_is_running_after_its_first_apply_with_the_engines_verdict() {
    let Some(env) =
        Env::new("a_tenant_with_no_published_port_is_running_after_its_first_apply_with_the_engines_verdict")
    else {
        return;
    };
    // The engine checks once an hour: its verdict stays "starting" for the whole test.
    let spec = stub_spec("deny", "  network: { egress: deny }\n").replace("interval: 2s", "interval: 1h");
    env.spec("deny.yaml", &spec);
    env.apply_ok();
    let c = support::daemon::container(&env, "deny").expect("its container");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["State"]["Health"]["Status"], "starting", "the engine has not checked yet");

    let s = env.status("deny").expect("a status");
    assert_eq!((s["phase"].as_str(), s["health"].as_str()), (Some("Running"), Some("starting")), "{s}");
    assert!(s.get("hostPort").is_none() && s.get("url").is_none(), "{s}");
    let healthy = s["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Healthy").unwrap();
    assert!(healthy["message"].as_str().unwrap().contains("not probed"), "{healthy}");
    let table = stdout(&env.tenantd(&["status"]));
    assert!(row(&table, "deny").contains("Running  starting"), "{table}");
}
