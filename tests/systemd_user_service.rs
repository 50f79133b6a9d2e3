//! The packaged *user* unit on rootless Podman: the .deb of this build installed in a Debian
//! machine whose PID 1 is systemd (tests/support/user_machine.rs), configured by an ordinary
//! user from the shipped example, and started, reloaded and stopped by that user's own service
//! manager, converging the sample tenant onto the user's own Podman through its socket. No
//! fake notify socket: readiness and reloads go through systemd itself.
//!
//! Without mmdebstrap, root or /dev/net/tun the test prints `SKIPPED`; with
//! `TENANTD_REQUIRE_SYSTEMD=1` it fails instead.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use support::booted::BOOT;
use support::packages::current_deb;
use support::service::free_port;
use support::user_machine::{UserMachine, HOME, UID, USER};
use support::{eventually, http_get, metric};

const CONFIG_DIR: &str = "/home/alice/.config/tenantd";
const CONFIG: &str = "/home/alice/.config/tenantd/tenantd.toml";
/// The unit's StateDirectory= ($XDG_STATE_HOME/tenantd), the example config's state_dir.
const STATE_DIR: &str = "/home/alice/.local/state/tenantd";
const EXAMPLE: &str = "/usr/share/doc/tenantd/examples/tenantd-rootless.toml";
/// Generous: the sample's image is built on a cold engine.
const CONVERGE: Duration = Duration::from_secs(120);
/// Appended to the sample's spec.
const ROLLOUT: &str = "  rollout: { strategy: stopFirst }\n";

/// The tenant's status file, read in the machine.
fn status(m: &UserMachine, tenant: &str) -> Option<Value> {
    let out = m.sh(&format!("cat {STATE_DIR}/status/{tenant}.json"));
    out.status.success().then(|| serde_json::from_slice(&out.stdout).expect("a status file is JSON"))
}

/// Every container of the user's Podman: name → (id, state, started at), as its own API says.
fn containers(m: &UserMachine) -> BTreeMap<String, (String, String, String)> {
    let json = m.user_sh_ok("podman --remote ps --all --format json");
    let list: Vec<Value> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("podman ps: {e}: {json}"));
    list.iter()
        .map(|c| {
            let field = |k: &str| c[k].as_str().map(str::to_string).unwrap_or_else(|| c[k].to_string());
            (c["Names"][0].as_str().unwrap().to_string(), (field("Id"), field("State"), field("StartedAt")))
        })
        .collect()
}

#[test]
fn the_user_unit_converges_a_tenant_on_rootless_podman_reloads_and_stops_without_touching_it() {
    let started = Instant::now();
    let Some(m) = UserMachine::boot("systemd_user_service") else { return };
    let booted = started.elapsed();
    let installed = m.install(&current_deb());
    assert!(installed.contains("Setting up tenantd"), "{installed}");
    assert!(
        m.sh_ok("systemctl --global is-enabled tenantd || true").trim() == "disabled",
        "the package enables nothing"
    );

    // The user configures it as the unit's header says: Podman's storage, the shipped example
    // with their own ports, the sample tenant and its build context.
    m.user_write(&format!("{HOME}/.config/containers/storage.conf"), "[storage]\ndriver = \"overlay\"\n", "0644");
    // The example with ports of this test's own, a metrics listener and a quick resync.
    let (ports, metrics) = (free_port(), free_port());
    m.user_sh_ok(&format!(
        "mkdir -p {CONFIG_DIR}/tenants.d && sed -e 's/^port_range = .*/port_range = [{ports}, {}]/' {EXAMPLE} > {CONFIG}",
        ports + 9
    ));
    m.user_sh_ok(&format!(
        "printf '\\n[daemon]\\nresync_interval = \"5s\"\\nmetrics_address = \"127.0.0.1:{metrics}\"\\n' >> {CONFIG}"
    ));
    let config = m.user_sh_ok(&format!("cat {CONFIG}"));
    for line in [
        &format!("state_dir = \"{STATE_DIR}\"") as &str,
        &format!("dir = \"/run/user/{UID}/tenantd/secrets\""),
        "host_firewall = \"external\"",
        &format!("port_range = [{ports}, {}]", ports + 9),
    ] {
        assert!(config.lines().any(|l| l == line), "the config has no line {line:?}:\n{config}");
    }
    support::stub::stub_image(); // builds examples/stub-runtime/dist
    let stub = support::repo_root().join("examples/stub-runtime");
    m.user_copy_in(&stub.join("Dockerfile"), &format!("{CONFIG_DIR}/examples/stub-runtime/Dockerfile"));
    m.user_copy_in(&stub.join("dist"), &format!("{CONFIG_DIR}/examples/stub-runtime/dist"));
    // The sample, stopped before it is replaced: a start-first rollout puts an ingress in front
    // of the runtime, whose directory tenantd hands to the ingress's user with chown, which an
    // unprivileged tenantd may not do ("chown failed: Operation not permitted").
    let sample = std::fs::read_to_string(support::repo_root().join("tenants.d/acme.yaml")).unwrap();
    m.user_write(&format!("{CONFIG_DIR}/tenants.d/acme.yaml"), &(sample + ROLLOUT), "0644");
    m.user_sh_ok("tenantd --config ~/.config/tenantd/tenantd.toml validate");

    // The user's Podman socket, then tenantd: READY=1 reaches the user manager.
    m.user_systemctl("enable --now", "podman.socket");
    m.user_systemctl("start --no-block", "tenantd");
    eventually("the user unit to become active", BOOT, || (m.unit("ActiveState") == "active").then_some(()));
    let journal = m.journal();
    assert!(journal.contains("engine=podman"), "tenantd found the user's Podman:\n{journal}");
    assert!(journal.contains(&format!("unix:///run/user/{UID}/podman/podman.sock")), "{journal}");
    assert!(m.unit("StatusText").contains("on podman"), "{}", m.unit("StatusText"));

    let converging = Instant::now();
    let acme = eventually("acme Running and healthy at its spec", CONVERGE, || {
        let s = status(&m, "acme")?;
        let converged = s["phase"] == "Running"
            && s["health"] == "healthy"
            && s["specHash"].is_string()
            && s["specHash"] == s["observedHash"];
        converged.then_some(s)
    });
    let converged = converging.elapsed();
    // Rootless on cgroup v1 creates containers without limits: said once, and not taken for a
    // change to make (which would replace the tenant on every pass).
    let cgroup_v1 = m.sh_ok("stat -f -c %T /sys/fs/cgroup").trim() != "cgroup2fs";
    if cgroup_v1 {
        assert_eq!(m.journal().matches("enforces no resource limits").count(), 1, "{}", m.journal());
    }
    // And stays so: a pass that changes nothing, not one more replacement.
    eventually("a reconcile of acme that changes nothing", Duration::from_secs(30), || {
        (metric(metrics, "tenantd_reconciles_total{result=\"noop\"}")? >= 1.0).then_some(())
    });
    let now = status(&m, "acme").expect("the status file");
    assert_eq!((&now["phase"], &now["containerId"]), (&acme["phase"], &acme["containerId"]), "acme changed: {now}");
    assert_eq!(acme["engine"]["kind"], "podman", "{acme}");
    let port = acme["hostPort"].as_u64().expect("hostPort in the status") as u16;
    assert!((ports..=ports + 9).contains(&port), "port {port} outside the config's range: {acme}");
    // Published on the loopback the machine shares with the host, by rootless Podman's forwarder.
    assert_eq!(http_get(port, "/health"), Some(200), "GET /health on 127.0.0.1:{port}");
    let tenants = containers(&m);
    assert!(tenants.keys().any(|n| n == "tenantd_acme"), "the runtime on the user's Podman: {tenants:?}");
    assert!(tenants.values().all(|(_, state, _)| state == "running"), "{tenants:?}");
    let pid = m.unit("MainPID");

    // A reload through the user manager: the same daemon reads its config again.
    m.user_systemctl("reload", "tenantd");
    m.wait_for_log("configuration reloaded", 0, Duration::from_secs(30));
    assert_eq!((m.unit("ActiveState"), m.unit("MainPID")), ("active".to_string(), pid));

    // Stopping the unit leaves the tenant running on the user's Podman.
    m.user_systemctl("stop", "tenantd");
    assert_eq!(m.unit("ActiveState"), "inactive");
    assert_eq!(m.unit("Result"), "success");
    assert!(m.journal().contains("stopping; tenants keep running"));
    assert_eq!(containers(&m), tenants, "stopping tenantd touched a tenant");
    assert_eq!(http_get(port, "/health"), Some(200), "the tenant still answers");
    assert_eq!(m.unit("NRestarts"), "0");
    eprintln!(
        "systemd_user_service: machine booted in {booted:?}, acme converged in {converged:?}, {:?} in all ({USER})",
        started.elapsed()
    );
}
