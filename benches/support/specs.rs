//! The benches' input: a directory of stub tenant specs (the stub image, egress denied, one
//! volume, a probe command) and a config pointing at it.

// Each bench includes this module and uses part of it.
#![allow(dead_code)]

use std::path::Path;

use tenantd::spec::TenantName;

/// The `i`th tenant: `t0000`, `t0001`, … (wider past 9,999).
pub fn tenant_name(i: usize) -> TenantName {
    format!("t{i:04}").parse().expect("a valid tenant name")
}

/// Writes `count` specs, `t0000.yaml` …, into `dir` (created if missing).
pub fn write_specs(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let name = tenant_name(i);
        let yaml = format!(
            "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {name}, labels: {{ plan: pro }} }}
spec:
  image: tenantd-stub:test
  pullPolicy: Never
  env: {{ GREETING: hello, TENANT: {name} }}
  resources: {{ memory: 64Mi, cpus: 0.25, pids: 64 }}
  health: {{ interval: 30s, timeout: 5s, retries: 3, startPeriod: 20s, probeCommand: [/stub-runtime, probe] }}
  volumes: [ {{ name: data, mountPath: /data }} ]
  network: {{ egress: deny }}
"
        );
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
}

/// Writes `dir/tenantd.toml`: `tenants`, a state directory in `dir`, instance `instance`, and
/// the default `[daemon]` settings (resync 60 s, stats 15 s).
pub fn write_config(dir: &Path, tenants: &Path, instance: &str) {
    let text = format!(
        "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {instance:?}\nport_range = [24000, 24019]\n",
        tenants,
        dir.join("state")
    );
    std::fs::write(dir.join("tenantd.toml"), text).unwrap();
}
