//! The packaged service under a real systemd: the .deb of this build installed in a Debian
//! machine whose PID 1 is systemd (tests/support/machine.rs), started, reloaded, stopped and
//! killed by its watchdog there, driving the host's real Docker engine. No fake notify socket:
//! readiness, reloads and the watchdog go through systemd itself.
//!
//! The machines share the host's `/var/lib/tenantd` and `/run/tenantd`, so these tests run one
//! at a time (a machine-wide lock). Without mmdebstrap or root they print `SKIPPED`; with
//! `TENANTD_REQUIRE_SYSTEMD=1` they fail instead.

mod support;

use std::time::Duration;

use support::machine;
use support::service::{containers, Service, CONFIG, CONVERGE, TENANTS};
use support::{docker, eventually, stdout};

#[test]
fn the_service_is_ready_only_once_the_engine_answers_converges_replaces_and_stops_without_touching_tenants() {
    let Some(service) = Service::install("systemd_service", &["acme", "globex"]) else { return };
    let m = &service.machine;
    assert_eq!(stdout(&m.sh("systemctl is-enabled tenantd || true")).trim(), "disabled", "the package enables nothing");

    // An engine socket that is not there yet: the unit stays `activating`.
    m.sh_ok(&format!(
        "sed -i 's|^# host = .*|host = \"unix:///run/engine/docker.sock\"|' {CONFIG} && mkdir -p /run/engine"
    ));
    m.sh_ok("systemctl start --no-block tenantd");
    m.wait_for_log("engine does not answer yet", 0, support::booted::BOOT);
    assert_eq!(service.machine.unit("ActiveState"), "activating");
    assert!(m.unit("StatusText").starts_with("waiting for the engine"), "{}", m.unit("StatusText"));

    // The engine appears: READY=1, and only then active.
    m.sh_ok("ln -s /var/run/docker.sock /run/engine/docker.sock");
    eventually("the unit to become active", Duration::from_secs(30), || {
        (m.unit("ActiveState") == "active").then_some(())
    });
    let journal = m.journal("");
    let waited = journal.find("engine does not answer yet").unwrap();
    let running = journal.find("tenantd is running").expect("the daemon says it runs");
    assert!(waited < running, "{journal}");
    service.wait_converged(&["acme", "globex"]);

    // A start-first replacement under the unit's sandbox: the new runtime is health-checked on
    // its container address, then traffic moves to it.
    let before = service.status("acme").unwrap();
    m.sh_ok(&format!("sed -i 's/LOG_LEVEL: info/LOG_LEVEL: debug/' {TENANTS}/acme.yaml"));
    eventually("acme replaced and healthy", CONVERGE, || {
        let s = service.status("acme")?;
        let replaced = s["containerId"] != before["containerId"] && s["specHash"] != before["specHash"];
        (replaced && s["specHash"] == s["observedHash"] && s["health"] == "healthy").then_some(())
    });
    let port = service.status("acme").unwrap()["hostPort"].as_u64().unwrap() as u16;
    assert_eq!(port as u64, before["hostPort"].as_u64().unwrap(), "the endpoint stays");
    assert_eq!(support::http_get(port, "/health"), Some(200));

    // The journal's priorities are tenantd's levels: the warning is there at -p warning, the
    // news is not.
    let warnings = m.journal("-p warning");
    assert!(warnings.contains("engine does not answer yet"), "{warnings}");
    assert!(!warnings.contains("tenantd is running") && !warnings.contains("tenant converged"), "{warnings}");
    assert!(m.journal("-p info").contains("tenant converged"));

    // Stopping the service leaves every tenant as it was.
    let tenants = containers(&m.instance);
    assert!(tenants.len() >= 5, "two runtimes, a sidecar and two ingresses: {tenants:?}");
    service.systemctl("stop");
    assert_eq!(m.unit("ActiveState"), "inactive");
    assert_eq!(m.unit("Result"), "success");
    assert!(m.journal("").contains("stopping; tenants keep running"));
    assert_eq!(containers(&m.instance), tenants, "stopping tenantd touched a tenant");
}

#[test]
fn a_reload_applies_a_changed_setting_and_refuses_an_invalid_config_without_stopping() {
    let Some(service) = Service::install("systemd_service", &["acme"]) else { return };
    let m = &service.machine;
    service.systemctl("start");
    service.wait_converged(&["acme"]);
    let pid = m.unit("MainPID");
    let acme = containers(&m.instance);

    // A changed setting: another tenants directory, holding acme as it was and globex.
    let other = "/etc/tenantd/other.d";
    m.sh_ok(&format!("mkdir {other} && cp {TENANTS}/acme.yaml {other}/"));
    m.copy_in(&support::repo_root().join("tenants.d/globex.yaml"), &format!("{other}/globex.yaml"));
    m.sh_ok(&format!("sed -i 's|^tenants_dir = .*|tenants_dir = \"{other}\"|' {CONFIG}"));
    service.systemctl("reload");
    m.wait_for_log("configuration reloaded", 0, Duration::from_secs(30));
    service.wait_converged(&["globex"]);
    let now = containers(&m.instance);
    assert!(acme.iter().all(|(name, c)| now.get(name) == Some(c)), "acme was touched: {acme:?} → {now:?}");

    // An invalid config, and one changing what only a restart may: both refused, the daemon
    // keeps running with what it had.
    let good = m.sh_ok(&format!("cat {CONFIG}"));
    m.sh_ok(&format!("sed -i 's/^concurrency = .*/concurrency = \"many\"/' {CONFIG}"));
    service.systemctl("reload");
    m.wait_for_log("new configuration refused", 0, Duration::from_secs(30));
    m.write(CONFIG, &good.replace("# host_allow = [\"tcp/8080\"]", "host_allow = [\"tcp/9123\"]"), "0640");
    assert!(m.sh_ok(&format!("cat {CONFIG}")).contains("\nhost_allow = [\"tcp/9123\"]"));
    service.systemctl("reload");
    let journal = m.wait_for_log("new configuration refused", 1, Duration::from_secs(30));
    assert!(
        journal.contains("network.host_firewall, network.host_allow cannot change while tenantd runs"),
        "{journal}"
    );
    assert_eq!((m.unit("ActiveState").as_str(), m.unit("MainPID")), ("active", pid.clone()));
    assert_eq!(m.unit("NRestarts"), "0");
    assert_eq!(containers(&m.instance), now, "the refused configs changed nothing");
}

#[test]
fn the_watchdog_restarts_a_stuck_daemon_and_the_tenants_are_not_touched() {
    let Some(service) = Service::install("systemd_service", &["acme", "globex"]) else { return };
    let m = &service.machine;
    // The unit's own mechanism with a shorter timeout, so the test waits seconds, not a minute.
    service.drop_in("watchdog", "[Service]\nWatchdogSec=4s\nRestartSec=1s\n");
    service.systemctl("start");
    service.wait_converged(&["acme", "globex"]);
    let tenants = containers(&m.instance);
    let pid = m.unit("MainPID");

    // A stuck daemon: stopped, it pings no more.
    m.sh_ok(&format!("kill -STOP {pid}"));
    eventually("systemd to restart tenantd", Duration::from_secs(60), || {
        let restarted = m.unit("MainPID") != pid && m.unit("ActiveState") == "active";
        restarted.then_some(())
    });
    let journal = m.sh_ok("journalctl --no-pager -o cat -u tenantd");
    assert!(journal.contains("Watchdog timeout"), "{journal}");
    assert_eq!(m.unit("NRestarts"), "1");

    // The new daemon went through every tenant and changed nothing.
    assert_eq!(service.wait_noops(2.0), 0.0, "the restarted daemon changed a tenant");
    assert_eq!(containers(&m.instance), tenants, "a tenant was touched");
}

#[test]
fn load_credential_delivers_the_age_identity_and_the_secret_reaches_the_tenants_tmpfs() {
    let Some(service) = Service::install("systemd_service", &[]) else { return };
    let m = &service.machine;
    let recipient = m.sh_ok("tenantd secrets keygen --output /etc/tenantd/age-identity 2>&1 | grep -o 'age1[a-z0-9]*'");
    let recipient = recipient.trim();
    assert!(recipient.starts_with("age1"), "{recipient}");
    let plaintext = "s3cr3t-from-credential";
    let ciphertext = m.sh_ok(&format!("printf %s '{plaintext}' | tenantd secrets encrypt --recipient {recipient}"));
    // `value: |` and the armor, indented under the secret's name.
    let entry: String = ciphertext.lines().map(|l| format!("      {l}\n")).collect();
    let spec = std::fs::read_to_string(support::repo_root().join("tenants.d/acme.yaml")).unwrap()
        + &format!("  secrets:\n    GATEWAY_TOKEN:\n{entry}");
    m.write(&format!("{TENANTS}/acme.yaml"), &spec, "0640");
    service.drop_in("credential", "[Service]\nLoadCredential=age-identity:/etc/tenantd/age-identity\n");
    service.systemctl("start");
    service.wait_converged(&["acme"]);

    let file = machine::host_path(&format!("{}/secrets/acme/GATEWAY_TOKEN", machine::RUNTIME_DIR));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), plaintext);
    let fs = stdout(&std::process::Command::new("stat").args(["-f", "-c", "%T"]).arg(&file).output().unwrap());
    assert_eq!(fs.trim(), "tmpfs");
    // The runtime sees that very file (same inode) in its secrets directory.
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&file).unwrap().ino();
    let port = service.status("acme").unwrap()["hostPort"].as_u64().unwrap() as u16;
    let (_, seen) = support::http_body(port, "/debug/runtime").expect("the runtime answers");
    assert!(seen.contains("GATEWAY_TOKEN") && seen.contains(&inode.to_string()), "{seen}");
    // Nowhere else.
    let id = service.status("acme").unwrap()["containerId"].as_str().unwrap().to_string();
    assert!(!stdout(&docker(&["inspect", &id])).contains(plaintext));
    assert!(!m.sh_ok("journalctl --no-pager -o verbose").contains(plaintext));
    assert!(!std::fs::read_to_string(machine::host_path(&format!("{}/status/acme.json", machine::STATE_DIR)))
        .unwrap()
        .contains(plaintext));
}
