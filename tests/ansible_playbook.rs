//! The Ansible example (`examples/ansible/`) run for real: `ansible-playbook` on localhost
//! (connection local) templates a tenant into a running daemon's tenants directory and waits for
//! it in its status file; the deliberately invalid template is refused by `tenantd validate`
//! through the template module's `validate:`, and nothing already there is lost.
//!
//! Needs `ansible-playbook` (ansible-core; `TENANTD_ANSIBLE_PLAYBOOK` names another binary): the
//! test fails without it when `TENANTD_REQUIRE_ANSIBLE=1`, else it is skipped with a message.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(60);

/// The ansible-playbook binary, or None (skipped) when it is missing and not required.
fn ansible_playbook(test: &str) -> Option<PathBuf> {
    let bin = PathBuf::from(std::env::var_os("TENANTD_ANSIBLE_PLAYBOOK").unwrap_or_else(|| "ansible-playbook".into()));
    let found = Command::new(&bin).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if found {
        return Some(bin);
    }
    if std::env::var("TENANTD_REQUIRE_ANSIBLE").as_deref() == Ok("1") {
        panic!("{test}: {} does not run and TENANTD_REQUIRE_ANSIBLE=1", bin.display());
    }
    eprintln!(
        "SKIPPED {test}: {} not found (install ansible-core; set TENANTD_REQUIRE_ANSIBLE=1 to make this a failure)",
        bin.display()
    );
    None
}

/// Runs one of the example's playbooks with the example's ansible.cfg, offline and quiet: its
/// home, temp dirs and collections path in the test's temp dir, nothing of the caller's
/// `ANSIBLE_*` settings, no colours, no retry files.
fn run_playbook(bin: &Path, env: &Env, playbook: &str, vars: &serde_json::Value) -> Output {
    let example = repo_root().join("examples/ansible");
    let home = env.path("ansible");
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    let vars_file = env.path(&format!("{playbook}.vars.json"));
    std::fs::write(&vars_file, vars.to_string()).unwrap();
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(env.dir.path())
        .env("ANSIBLE_CONFIG", example.join("ansible.cfg"))
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", home.join("tmp"))
        .env("ANSIBLE_COLLECTIONS_PATH", home.join("collections"))
        .env("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "False")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("NO_COLOR", "1")
        .arg(example.join(playbook))
        .arg("-e")
        .arg(format!("@{}", vars_file.display()));
    cmd.output().expect("ansible-playbook runs")
}

fn output(o: &Output) -> String {
    format!("exit {:?}\n{}{}", o.status.code(), stdout(o), stderr(o))
}

/// The numeric user and group of this process, for the spec files' owner.
fn id(flag: &str) -> String {
    let o = Command::new("id").arg(flag).output().expect("id runs");
    stdout(&o).trim().to_string()
}

/// One item of the playbook's `tenants`: the stub runtime with quick health settings.
fn stub_tenant(name: &str, image: &str) -> serde_json::Value {
    json!({
        "name": name,
        "image": image,
        "pullPolicy": "Never",
        "labels": { "managed-by": "ansible" },
        "env": { "GREETING": "hello" },
        "resources": { "memory": "64Mi", "cpus": 0.25, "pids": 64 },
        "health": { "interval": "2s", "timeout": "1s", "retries": 3, "startPeriod": "2s",
                    "probeCommand": ["/stub-runtime", "probe"] },
        "volumes": [ { "name": "data", "mountPath": "/data" } ],
    })
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn the_playbook_deploys_a_tenant_and_an_invalid_template_is_never_written() {
    let test = "the_playbook_deploys_a_tenant_and_an_invalid_template_is_never_written";
    let Some(ansible) = ansible_playbook(test) else { return };
    let Some(env) = Env::new(test) else { return };
    let image = support::stub::stub_image();
    // A tenant the playbooks do not manage: nothing they do may touch it.
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let daemon = Daemon::start(&env);
    let beta = daemon.await_running(&env, "beta", CONVERGE);

    let common = json!({
        "tenantd_bin": env!("CARGO_BIN_EXE_tenantd"),
        "tenants_dir": env.tenants,
        "tenantd_spec_owner": id("-u"),
        "tenantd_spec_group": id("-g"),
        "tenantd_config": env.config,
        "tenantd_wait_timeout": "2m",
    });
    let with = |extra: serde_json::Value| {
        let mut v = common.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };

    // The playbook writes acme's spec and returns only once the daemon reports it Running.
    let o = run_playbook(&ansible, &env, "playbook.yml", &with(json!({ "tenants": [stub_tenant("acme", &image)] })));
    assert!(o.status.success(), "the playbook failed: {}", output(&o));
    let spec_path = env.tenants.join("acme.yaml");
    assert_eq!(mode(&spec_path), 0o640, "the spec is written with the playbook's mode");
    let written = std::fs::read_to_string(&spec_path).expect("the playbook wrote acme.yaml");
    assert!(written.contains("image: \"tenantd-stub:test\""), "{written}");
    let v = env.tenantd(&["validate", spec_path.to_str().unwrap()]);
    assert!(v.status.success(), "the written spec is valid: {}", stderr(&v));
    let status = env.status("acme").expect("acme's status file exists when the playbook returns");
    assert_eq!(status["phase"], "Running", "the playbook returned before acme was Running: {status:#}");
    assert_eq!(status["specHash"], status["observedHash"], "{status:#}");
    let running = daemon.await_running(&env, "acme", CONVERGE);
    let container = env.inspect(&env.container("acme")).expect("acme's container");
    assert_eq!(container["State"]["Running"], true);
    assert_eq!(container["Config"]["Labels"]["io.tenantd.instance"], env.instance.as_str());

    // Run again: nothing changes, on disk or on the engine.
    let o = run_playbook(&ansible, &env, "playbook.yml", &with(json!({ "tenants": [stub_tenant("acme", &image)] })));
    assert!(o.status.success(), "the second run failed: {}", output(&o));
    assert!(stdout(&o).contains("changed=0"), "a second run changes nothing: {}", output(&o));
    assert_eq!(env.container_id("acme").as_deref(), running["containerId"].as_str());

    // The misspelt template over the running tenant's own file: refused, file and container kept.
    let bytes = std::fs::read(&spec_path).unwrap();
    let started = container["State"]["StartedAt"].clone();
    let o = run_playbook(
        &ansible,
        &env,
        "invalid-template.yml",
        &with(json!({ "tenant_name": "acme", "tenant_image": image })),
    );
    let out = output(&o);
    assert!(!o.status.success(), "ansible must refuse the invalid template: {out}");
    assert!(out.contains("failed to validate"), "ansible says the validation failed: {out}");
    assert!(
        out.contains("/spec/resources/memroy: unknown field") && out.contains("did you mean"),
        "tenantd's own error is in ansible's output: {out}"
    );
    assert_eq!(std::fs::read(&spec_path).unwrap(), bytes, "acme.yaml must be left byte for byte");
    let c = env.inspect(&env.container("acme")).expect("acme's container is still there");
    assert_eq!(c["Id"], running["containerId"], "acme's container must not be replaced");
    assert_eq!(c["State"]["StartedAt"], started, "acme's container must not be restarted");
    assert_eq!(c["State"]["Running"], true);

    // The same template to a new path: no file at all, and no temp file left in tenants_dir.
    let o = run_playbook(
        &ansible,
        &env,
        "invalid-template.yml",
        &with(json!({ "tenant_name": "gamma", "tenant_image": image })),
    );
    assert!(!o.status.success(), "ansible must refuse the invalid template: {}", output(&o));
    assert!(stdout(&o).contains("/spec/resources/memroy: unknown field"), "{}", output(&o));
    let mut files: Vec<String> = std::fs::read_dir(&env.tenants)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["acme.yaml", "beta.yaml"], "nothing but the two good specs in tenants_dir");

    // Another writer's file already names gamma: the playbook's gamma.yaml would make both
    // invalid, so `validate --as` refuses it and neither file changes.
    env.spec("old-gamma.yaml", &stub_spec("gamma", ""));
    let o = run_playbook(&ansible, &env, "playbook.yml", &with(json!({ "tenants": [stub_tenant("gamma", &image)] })));
    let out = output(&o);
    assert!(!o.status.success(), "ansible must refuse a second spec naming gamma: {out}");
    assert!(
        out.contains("failed to validate") && out.contains("gamma.yaml: tenant \\\"gamma\\\" is also defined in"),
        "{out}"
    );
    assert!(!env.tenants.join("gamma.yaml").exists(), "the duplicate is never written");
    assert_eq!(std::fs::read_to_string(env.tenants.join("old-gamma.yaml")).unwrap(), stub_spec("gamma", ""));
    env.remove_spec("old-gamma.yaml");

    // A tenant that cannot run (its image does not exist and may not be pulled): the playbook
    // fails once it has waited, naming the tenant and its status.
    let o = run_playbook(
        &ansible,
        &env,
        "playbook.yml",
        &with(json!({
            "tenants": [stub_tenant("delta", &format!("tenantd-missing-{}:none", env.instance))],
            "tenantd_wait_timeout": "10s",
        })),
    );
    let out = output(&o);
    assert!(!o.status.success(), "the playbook must fail for a tenant that never runs: {out}");
    assert!(out.contains("timed out after 10s waiting for delta (create pending; phase "), "{out}");
    let delta = env.status("delta").expect("delta's status");
    assert_ne!(delta["phase"], "Running", "{delta:#}");
    assert!(out.contains(&format!("phase {}", delta["phase"].as_str().unwrap())), "{out}\n{delta:#}");

    assert_eq!(env.status("acme").unwrap()["phase"], "Running");
    let beta_now = env.status("beta").unwrap();
    assert_eq!(beta_now["phase"], "Running");
    assert_eq!(beta_now["containerId"], beta["containerId"], "beta was never touched");
}
