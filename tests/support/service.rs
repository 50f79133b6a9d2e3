//! The package's service in a systemd machine (support/machine.rs), installed and configured as
//! an operator would: the shipped config edited in place (the test's instance name, a metrics
//! listener), the sample tenants and their build context under /etc/tenantd.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::machine::{self, Machine};
use super::{docker, eventually, stdout};

pub const CONFIG: &str = "/etc/tenantd/tenantd.toml";
pub const TENANTS: &str = "/etc/tenantd/tenants.d";
/// Where the samples' `build: { context: ../examples/stub-runtime }` points from `TENANTS`.
pub const STUB_CONTEXT: &str = "/etc/tenantd/examples/stub-runtime";
pub const DROP_INS: &str = "/etc/systemd/system/tenantd.service.d";

/// Generous: the samples' images are built from scratch on a cold engine.
pub const CONVERGE: Duration = Duration::from_secs(180);

pub struct Service {
    pub machine: Machine,
    pub metrics_port: u16,
}

impl Service {
    /// Boots a machine, installs this build's package and configures it with the samples named
    /// in `tenants`; None when the test is skipped.
    pub fn install(test: &str, tenants: &[&str]) -> Option<Service> {
        let machine = Machine::boot(test)?;
        Some(Service::on(machine, &super::packages::current_deb(), &super::repo_root().join("tenants.d"), tenants))
    }

    /// Installs the package in `deb` on `machine`, with the samples from `samples`.
    pub fn on(machine: Machine, deb: &Path, samples: &Path, tenants: &[&str]) -> Service {
        machine.install(deb);
        let service = Service { machine, metrics_port: free_port() };
        service.configure(samples, tenants);
        service
    }

    fn configure(&self, samples: &Path, tenants: &[&str]) {
        let m = &self.machine;
        m.sh_ok(&format!(
            "sed -i -e 's/^instance = .*/instance = \"{}\"/' \
                    -e 's/^# metrics_address = .*/metrics_address = \"127.0.0.1:{}\"/' {CONFIG}",
            m.instance, self.metrics_port
        ));
        let config = m.sh_ok(&format!("cat {CONFIG}"));
        assert!(config.contains(&format!("instance = \"{}\"", m.instance)), "{config}");
        assert!(config.contains(&format!("metrics_address = \"127.0.0.1:{}\"", self.metrics_port)), "{config}");
        super::stub::stub_image(); // builds examples/stub-runtime/dist
        let stub = super::repo_root().join("examples/stub-runtime");
        m.sh_ok(&format!("mkdir -p {STUB_CONTEXT}"));
        m.copy_in(&stub.join("Dockerfile"), &format!("{STUB_CONTEXT}/Dockerfile"));
        m.copy_in(&stub.join("dist"), &format!("{STUB_CONTEXT}/dist"));
        for tenant in tenants {
            m.copy_in(&samples.join(format!("{tenant}.yaml")), &format!("{TENANTS}/{tenant}.yaml"));
        }
    }

    /// Adds a drop-in to the unit and reloads systemd's view of it.
    pub fn drop_in(&self, name: &str, text: &str) {
        self.machine.write(&format!("{DROP_INS}/{name}.conf"), text, "0644");
        self.machine.sh_ok("systemctl daemon-reload");
    }

    pub fn systemctl(&self, verb: &str) {
        self.machine.sh_ok(&format!("systemctl {verb} tenantd"));
    }

    /// The tenant's status file, read on the host (the state directory is shared).
    pub fn status(&self, tenant: &str) -> Option<Value> {
        let path = machine::host_path(&format!("{}/status/{tenant}.json", machine::STATE_DIR));
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Waits until every tenant in `tenants` is Running and healthy at its spec's hash.
    pub fn wait_converged(&self, tenants: &[&str]) {
        for tenant in tenants {
            eventually(&format!("{tenant} Running and healthy"), CONVERGE, || {
                let s = self.status(tenant)?;
                let converged = s["phase"] == "Running"
                    && s["health"] == "healthy"
                    && s["specHash"].is_string()
                    && s["specHash"] == s["observedHash"];
                converged.then_some(())
            });
        }
    }

    /// One number of the daemon's metrics, if it is being served.
    pub fn metric(&self, line_start: &str) -> Option<f64> {
        super::metric(self.metrics_port, line_start)
    }

    /// Waits until the daemon now serving metrics has finished `count` reconciles that changed
    /// nothing, and returns how many changed something.
    pub fn wait_noops(&self, count: f64) -> f64 {
        eventually(&format!("{count} no-op reconciles"), CONVERGE, || {
            let noop = self.metric("tenantd_reconciles_total{result=\"noop\"}")?;
            (noop >= count).then_some(())
        });
        self.metric("tenantd_reconciles_total{result=\"success\"}").unwrap_or(0.0)
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Every container of the instance, running: name → (id, StartedAt, RestartCount).
pub fn containers(instance: &str) -> BTreeMap<String, (String, String, i64)> {
    let filter = format!("label=io.tenantd.instance={instance}");
    let ids = stdout(&docker(&["ps", "-aq", "--filter", &filter]));
    ids.split_whitespace()
        .map(|id| {
            let v: Value = serde_json::from_str(&stdout(&docker(&["inspect", id]))).unwrap();
            let c = &v[0];
            let state = (
                c["Id"].as_str().unwrap().to_string(),
                c["State"]["StartedAt"].as_str().unwrap().to_string(),
                c["RestartCount"].as_i64().unwrap(),
            );
            assert_eq!(c["State"]["Status"], "running", "{}", c["Name"]);
            (c["Name"].as_str().unwrap().trim_start_matches('/').to_string(), state)
        })
        .collect()
}
