//! A config file named by a relative path (`cd dir && tenantd --config tenantd.toml apply`, as
//! the quickstart does) with relative paths in it: every path is absolute once loaded, so a
//! tenant with a generated runtime config and secrets is created, and the same tenant plans `no change`
//! whichever way the config is named afterwards (absolute, through a link to its directory),
//! against the real engine.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::daemon::container_id;
use support::secrets::*;
use support::*;

/// `tenantd --config <config> <args>`, run from `cwd`.
fn tenantd_in(cwd: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .current_dir(cwd)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .output()
        .expect("tenantd runs")
}

#[test]
fn a_relative_config_path_gives_the_same_tenants_as_an_absolute_one() {
    let Some(env) = Env::new("a_relative_config_path_gives_the_same_tenants_as_an_absolute_one") else {
        return;
    };
    let project = env.path("project");
    std::fs::create_dir_all(project.join("tenants.d")).unwrap();
    // The identity named relative to the config too; the secrets on the test's tmpfs.
    let tmpfs = Tmpfs::new(&env);
    std::fs::write(
        project.join("tenantd.toml"),
        format!(
            "tenants_dir = \"tenants.d\"\nstate_dir = \"state\"\ninstance = {:?}\nport_range = [{}, {}]\n\
             [secrets]\nidentity_file = \"age.key\"\ndir = {:?}\n",
            env.instance,
            env.ports.0,
            env.ports.1,
            tmpfs.0.join("secrets")
        ),
    )
    .unwrap();
    let recipient = keygen(&env, "project/age.key");
    let spec = stub_spec(
        "acme",
        &format!(
            "  secrets:\n    GW:\n{}  runtimeConfig:\n    gatewayToken: {{ secret: GW }}\n",
            encrypt(&env, &recipient, "relative-value")
        ),
    );
    std::fs::write(project.join("tenants.d/acme.yaml"), spec).unwrap();

    let out = tenantd_in(&project, Path::new("tenantd.toml"), &["apply"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let id = container_id(&env, "acme").expect("acme created");
    let config_file = project.join("state/runtime-config/acme/openclaw.json");
    assert!(config_file.is_file(), "its runtime config written under the project's state directory");

    // Named otherwise, from elsewhere: nothing to change.
    let link = env.path("link");
    std::os::unix::fs::symlink(&project, &link).unwrap();
    for config in [project.join("tenantd.toml"), link.join("tenantd.toml")] {
        let plan = tenantd_in(Path::new("/"), &config, &["plan", "--detailed-exitcode"]);
        assert_eq!(plan.status.code(), Some(0), "{}: {}{}", config.display(), stdout(&plan), stderr(&plan));
    }
    let plan = tenantd_in(&link, Path::new("./tenantd.toml"), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));
    let out = tenantd_in(Path::new("/"), &project.join("tenantd.toml"), &["apply"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("acme: unchanged"), "{}", stdout(&out));
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()), "the same container");
}
