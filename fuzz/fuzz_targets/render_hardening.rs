//! Any bytes as a spec file: whatever a spec that loads says, its containers get no privilege,
//! no added capability, no host namespace, no host path but their own runtime files, and no
//! engine socket, on Docker and on a cluster; and no secret value shows in either.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tenantd::render::kubernetes::KubeOptions;
use tenantd::render::{render_for, FileRoots};
use tenantd::spec::{parse_str, TenantName};
use tenantd_fuzz::hardening::{check_docker, check_kubernetes};
use tenantd_fuzz::samples::loaded;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("tenants.d/spec.yaml");
    let Ok(file) = parse_str(text, path) else { return };
    let spec = loaded(path, file);
    let instance: TenantName = "tenantd".parse().expect("valid");
    let roots = FileRoots {
        config: "/var/lib/tenantd/runtime-config".into(),
        secrets: "/run/tenantd/secrets".into(),
        ingress: "/var/lib/tenantd/ingress".into(),
    };
    let d = render_for(&spec, &instance, &roots, Some(&KubeOptions::default()));
    check_docker(&d, &instance, &roots, Some(19000));
    check_docker(&d, &instance, &roots, None);
    check_kubernetes(&d);
});
