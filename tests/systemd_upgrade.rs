//! Upgrading and downgrading the package with tenants running recreates nothing: the package of
//! an earlier commit (built from that commit, tests/support/machine.rs) runs the samples in a
//! systemd machine, `dpkg -i` of this build's package restarts the service, and every tenant
//! container is the one that was there (same id, same StartedAt, no restart); the same going
//! back. A change to how tenantd hashes or names what it creates must keep this green, or
//! carry a migration that does.
//!
//! `FROM` is the first commit whose package converges the samples under its own unit (the
//! packages before it could not: their unit kept root out of the ingress directory and dropped
//! the start-first health probes); move it forward to a release when one is cut. The test
//! builds it once per target directory, reusing this build's dependencies.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::machine::Machine;
use support::packages;
use support::service::{containers, Service};

const FROM: &str = "8172f3d0aece23e855017f936e3bccfaac50470e";
const SAMPLES: &[&str] = &["acme", "globex"];

/// Each sample's status fields that would change if its runtime were replaced.
fn identities(service: &Service) -> BTreeMap<String, (Value, Value)> {
    SAMPLES
        .iter()
        .map(|t| {
            let s = service.status(t).unwrap();
            (t.to_string(), (s["containerId"].clone(), s["specHash"].clone()))
        })
        .collect()
}

/// Installs `deb` over what runs, and checks that the new daemon took over and changed nothing.
fn switch_to(service: &Service, deb: &std::path::Path, what: &str) {
    let m = &service.machine;
    let tenants = containers(&m.instance);
    let statuses = identities(service);
    let pid = m.unit("MainPID");
    let changes = m.journal("").matches("tenant converged").count();
    let dpkg = m.install(deb);
    // restart-after-upgrade: the old daemon stopped, the new one started from the new binary.
    assert_ne!(m.unit("MainPID"), pid, "{what}: the service was not restarted:\n{dpkg}");
    assert_eq!(m.unit("ActiveState"), "active", "{what}");
    let running = m.sh_ok(&format!("readlink /proc/{}/exe", m.unit("MainPID")));
    assert_eq!(running.trim(), "/usr/bin/tenantd", "{what}: the running binary was replaced after it started");
    // One full pass over every tenant, each a no-op.
    assert_eq!(service.wait_noops(SAMPLES.len() as f64), 0.0, "{what}: the new daemon changed a tenant");
    assert_eq!(containers(&m.instance), tenants, "{what}: a container was recreated or restarted");
    assert_eq!(identities(service), statuses, "{what}: a status changed its runtime or hash");
    let journal = m.journal("");
    assert_eq!(
        journal.matches("tenant converged").count(),
        changes,
        "{what}: the journal reports a change:\n{journal}"
    );
}

#[test]
fn upgrading_and_downgrading_the_package_recreates_no_tenant() {
    let Some(machine) = Machine::boot("systemd_upgrade") else { return };
    let earlier = packages::earlier_deb(FROM);
    let current = packages::current_deb_as(&format!("{}+upgrade.test", env!("CARGO_PKG_VERSION")));
    // The samples as that commit had them: an operator's specs do not change with the package.
    let samples = earlier.parent().unwrap().parent().unwrap().join("src/tenants.d");
    let service = Service::on(machine, &earlier, &samples, SAMPLES);
    let m = &service.machine;
    // Enabled, as in production: Debian's maintainer scripts restart only enabled units.
    service.systemctl("enable --now");
    service.wait_converged(SAMPLES);
    assert!(containers(&m.instance).len() >= 5, "two runtimes, a sidecar and two ingresses");

    switch_to(&service, &current, "upgrade");
    switch_to(&service, &earlier, "downgrade");
}
