//! A status file's `source` is the spec file's absolute, normalised path, whatever way the
//! config and its tenants directory were named: from a config given by a relative path whose
//! `tenants_dir` climbs out of the config's directory (`../tenants.d`), for a valid tenant and
//! for an invalid one. Against the real engine (`apply` observes it), creating nothing: the
//! valid tenant's image is not present and may not be pulled.

mod support;

use std::path::{Component, Path};
use std::process::Command;

use support::*;

#[test]
fn status_source_is_the_absolute_normalised_spec_path() {
    let Some(env) = Env::new("status_source_is_the_absolute_normalised_spec_path") else { return };
    std::fs::create_dir_all(env.path("conf")).unwrap();
    std::fs::write(
        env.path("conf/tenantd.toml"),
        format!(
            "tenants_dir = \"../tenants.d\"\nstate_dir = \"../state\"\ninstance = {:?}\nport_range = [{}, {}]\n",
            env.instance, env.ports.0, env.ports.1
        ),
    )
    .unwrap();
    env.spec(
        "acme.yaml",
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  image: tenantd-test-absent:none\n  \
         pullPolicy: Never\n",
    );
    env.spec("bad.yaml", "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: bad}\nspec:\n  image: x\n  port: 0\n");
    let o = Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .current_dir(env.dir.path())
        .args(["--config", "conf/tenantd.toml", "apply"])
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .output()
        .expect("tenantd runs");
    let tenants = std::fs::canonicalize(&env.tenants).unwrap();
    for tenant in ["acme", "bad"] {
        let status = env.status(tenant).unwrap_or_else(|| panic!("no status for {tenant}: {}", stderr(&o)));
        let source = status["source"].as_str().unwrap_or_else(|| panic!("{tenant}: no source: {status}"));
        let path = Path::new(source);
        assert!(path.is_absolute(), "{tenant}: {source}");
        assert!(
            path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
            "{tenant}: not normalised: {source}"
        );
        assert_eq!(path, tenants.join(format!("{tenant}.yaml")), "{tenant}");
    }
}
