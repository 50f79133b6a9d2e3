//! The shipped samples: every spec under tenants.d/ and examples/ validates, and tenants.d/
//! comes up healthy on the real engine with a clean plan afterwards.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn every_sample_spec_validates() {
    let mut files = yaml_files(&repo_root().join("tenants.d"));
    let examples: Vec<_> = yaml_files(&repo_root().join("examples"))
        .into_iter()
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("kind: Tenant"))
        .collect();
    assert!(files.len() >= 2 && examples.len() >= 3, "samples went missing: {files:?} {examples:?}");
    files.extend(examples);
    let env = Env::without_docker();
    for f in &files {
        let o = env.tenantd(&["validate", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}{}", f.display(), stdout(&o), stderr(&o));
    }
}

/// Editors (through yaml-language-server) complete and check a spec against the schema named on
/// its first line: every sample carries that line, and the path in it leads to the schema.
#[test]
fn every_sample_spec_names_the_schema_for_editors() {
    let mut files = yaml_files(&repo_root().join("tenants.d"));
    files.extend(yaml_files(&repo_root().join("examples")));
    let schema = std::fs::canonicalize(repo_root().join("schemas/tenant.schema.json")).unwrap();
    let mut specs = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if !text.contains("kind: Tenant") {
            continue;
        }
        specs += 1;
        let first = text.lines().next().unwrap_or_default();
        let target = first.strip_prefix("# yaml-language-server: $schema=").unwrap_or_else(|| {
            panic!("{} does not start with the yaml-language-server modeline: {first:?}", f.display())
        });
        let resolved = std::fs::canonicalize(f.parent().unwrap().join(target))
            .unwrap_or_else(|e| panic!("{}: the modeline's {target} does not resolve: {e}", f.display()));
        assert_eq!(resolved, schema, "{}: the modeline names another file", f.display());
    }
    assert!(specs >= 5, "samples went missing: {files:?}");
}

#[test]
fn the_example_daemon_config_parses() {
    let text = std::fs::read_to_string(repo_root().join("examples/tenantd.toml")).unwrap();
    let cfg =
        tenantd::config::DaemonConfig::parse(&text, std::path::Path::new("/etc/tenantd/tenantd.toml"), None).unwrap();
    assert_eq!(cfg.instance.as_str(), "tenantd");
}

#[test]
fn sample_tenants_come_up_healthy_and_then_plan_is_clean() {
    let Some(env) = Env::new("sample_tenants_come_up_healthy_and_then_plan_is_clean") else {
        return;
    };
    stub::stub_image(); // builds the stub's dist/ used by the samples' build context
    for f in ["acme.yaml", "globex.yaml"] {
        let text = std::fs::read_to_string(repo_root().join("tenants.d").join(f)).unwrap();
        let ctx = repo_root().join("examples/stub-runtime");
        env.spec(f, &text.replace("../examples/stub-runtime", ctx.to_str().unwrap()));
    }
    let out = env.apply_ok();
    assert!(out.contains("acme: created") && out.contains("globex: created"), "{out}");

    for t in ["acme", "globex"] {
        let s = env.status(t).unwrap();
        assert_eq!(s["phase"], "Running", "{t}: {s:#}");
        assert_eq!(s["health"], "healthy", "{t}: {s:#}");
        let port = env.host_port(t);
        assert!((env.ports.0..=env.ports.1).contains(&port));
        assert_eq!(http_get(port, "/health"), Some(200), "{t} on {port}");
    }
    // The sidecar runs on the tenant's network and the runtime is reachable by the name `runtime` there.
    let sidecar = env.inspect(&format!("{}_globex_cache", env.instance)).expect("sidecar exists");
    assert_eq!(sidecar["State"]["Running"], true);
    assert!(sidecar["NetworkSettings"]["Networks"].get(env.network("globex")).is_some());

    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));
    let again = env.apply_ok();
    assert!(again.contains("acme: unchanged") && again.contains("globex: unchanged"), "{again}");

    // Healthy is also what the engine's own healthchecks conclude, in time, sidecar included.
    for name in [env.container("acme"), format!("{}_globex_cache", env.instance)] {
        eventually(&format!("the engine's healthcheck of {name} says healthy"), Duration::from_secs(30), || {
            let v = env.inspect(&name)?;
            (v["State"]["Health"]["Status"] == "healthy").then_some(())
        });
    }
}
