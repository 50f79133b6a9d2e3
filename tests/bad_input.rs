//! Bad input gets a clear error and nothing is lost.

mod support;

use support::*;

#[test]
fn a_broken_file_leaves_its_tenant_running_and_marked_invalid_while_others_converge() {
    let Some(env) = Env::new("a_broken_file_leaves_its_tenant_running_and_marked_invalid_while_others_converge") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let id = env.container_id("acme").unwrap();

    // Broken YAML in acme's file, and a new tenant beside it.
    env.spec("acme.yaml", "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: acme }\nspec: [unclosed\n");
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1), "an invalid spec makes apply fail: {}", stdout(&o));
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()), "acme must be left exactly as it was");
    assert_eq!(env.inspect(&env.container("acme")).unwrap()["State"]["Running"], true);
    let s = env.status("acme").unwrap();
    assert_eq!(s["phase"], "Invalid");
    assert!(s["lastError"].as_str().unwrap().contains("acme.yaml:4:"), "{s:#}");
    assert_eq!(env.status("beta").unwrap()["phase"], "Running");

    // A schema violation the same way.
    env.spec("acme.yaml", &stub_spec("acme", "  imagee: typo\n"));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()));
    assert!(env.status("acme").unwrap()["lastError"].as_str().unwrap().contains("imagee"));

    // Fixed again: nothing to replace, the same container stays.
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()));
    assert_eq!(env.status("acme").unwrap()["phase"], "Running");
}

#[test]
fn an_unreadable_file_holds_back_every_deletion() {
    let Some(env) = Env::new("an_unreadable_file_holds_back_every_deletion") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    // acme's spec moves to a file whose tenant cannot be told: nothing may be deleted.
    env.remove_spec("acme.yaml");
    env.spec("Not A Name.yaml", "{{{{ not yaml");
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(env.container_id("acme").is_some(), "acme must not be deleted: {}", stdout(&o));
}

#[test]
fn a_name_used_by_two_files_rejects_both() {
    let Some(env) = Env::new("a_name_used_by_two_files_rejects_both") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("acme-copy.yaml", &stub_spec("acme", ""));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(env.container_id("acme").is_none());
    let err = env.status("acme").unwrap()["lastError"].as_str().unwrap().to_string();
    assert!(err.contains("acme.yaml") && err.contains("acme-copy.yaml"), "{err}");
}

/// What the daemon rejects, validate rejects: two of the files given naming one tenant, as two
/// files, a file and a directory's, or two directories'. The same file given twice is one.
#[test]
fn validate_rejects_a_name_used_by_two_of_the_files_given() {
    let env = Env::without_docker();
    let spec = |name: &str| {
        format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{ name: {name} }}\nspec: {{ image: x }}\n")
    };
    let (a, b, other) = (env.path("a.yaml"), env.path("b.yaml"), env.path("globex.yaml"));
    std::fs::write(&a, spec("acme")).unwrap();
    std::fs::write(&b, spec("acme")).unwrap();
    std::fs::write(&other, spec("globex")).unwrap();
    let dir = env.path("more");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("acme.yaml"), spec("acme")).unwrap();
    let arg = |p: &std::path::Path| p.to_str().unwrap().to_string();

    let o = env.tenantd(&["validate", &arg(&a), &arg(&b), &arg(&other)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for (path, also) in [(&a, &b), (&b, &a)] {
        let line = format!(
            "{}: tenant \"acme\" is also defined in {}; both files are rejected",
            path.display(),
            also.display()
        );
        assert!(out.contains(&line), "{line}\n{out}");
    }
    assert!(stderr(&o).contains("2 problem(s) found; 1 tenant spec(s) valid"), "{}", stderr(&o));

    // A file and a directory holding another file for the same tenant.
    let o = env.tenantd(&["validate", &arg(&a), &arg(&dir)]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("is also defined in {}", dir.join("acme.yaml").display())), "{}", stdout(&o));

    // One file twice, or a directory and a file in it, is one spec.
    let inside = dir.join("acme.yaml");
    for args in [vec![arg(&a), arg(&a)], vec![arg(&dir), arg(&inside)]] {
        let mut all = vec!["validate".to_string()];
        all.extend(args);
        let o = env.tenantd(&all.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{all:?}: {}{}", stdout(&o), stderr(&o));
    }
}

/// A copy checked before it is moved into place (Ansible's `validate:` runs on a temp file):
/// with `--as DEST` its build context is resolved from DEST's directory, and a tenant another
/// spec there names is refused, the file DEST would replace aside.
#[test]
fn validate_as_checks_a_copy_where_it_will_go() {
    let env = Env::without_docker();
    let ctx = env.path("runtime");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
    let tenants = env.path("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let spec =
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: acme }\nspec: { build: { context: ../runtime } }\n";
    std::fs::write(tenants.join("acme.yaml"), spec).unwrap();
    let temp_dir = env.path("ansible-tmp/ansible.xyz");
    std::fs::create_dir_all(&temp_dir).unwrap();
    let temp = temp_dir.join("tmpab12cd");
    std::fs::write(&temp, spec).unwrap();
    let temp_arg = temp.to_str().unwrap();

    // Alone, its context is looked for next to the temp file, and is not there.
    let alone = env.tenantd(&["validate", temp_arg]);
    assert_eq!(alone.status.code(), Some(1), "{}", stdout(&alone));
    // Where it goes, replacing the file there: valid.
    let dest = tenants.join("acme.yaml");
    let o = env.tenantd(&["validate", "--as", dest.to_str().unwrap(), temp_arg]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // Beside a spec naming the same tenant: refused, naming that file, at the destination.
    let beside = tenants.join("acme-new.yaml");
    let o = env.tenantd(&["validate", "--as", beside.to_str().unwrap(), temp_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let line = format!("{}: tenant \"acme\" is also defined in {}", beside.display(), dest.display());
    assert!(stdout(&o).contains(&line), "{line}\n{}", stdout(&o));
    // One file only.
    let o = env.tenantd(&["validate", "--as", dest.to_str().unwrap(), temp_arg, temp_arg]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--as checks one file"), "{}", stderr(&o));
}

#[test]
fn an_empty_or_missing_tenants_dir_deletes_nothing_without_the_flag() {
    let Some(env) = Env::new("an_empty_or_missing_tenants_dir_deletes_nothing_without_the_flag") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    env.remove_spec("acme.yaml");
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--allow-empty"), "{}", stderr(&o));
    assert!(env.container_id("acme").is_some());

    std::fs::remove_dir(&env.tenants).unwrap();
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("tenants directory"), "{}", stderr(&o));
    assert!(env.container_id("acme").is_some());

    let o = env.tenantd(&["apply", "--allow-empty"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env.container_id("acme").is_none());
    assert!(env.inspect(&env.volume("acme", "data")).is_some());
}

#[test]
fn an_unreachable_engine_is_named_with_its_cause_and_nothing_is_recorded_as_deleted() {
    let env = Env::without_docker();
    env.spec("acme.yaml", "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: acme }\nspec: { image: x }\n");
    let o = env.tenantd_with_env(&["apply"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("unix:///nonexistent/docker.sock") && err.contains("does not exist"), "{err}");
    assert!(!env.status_path("acme").exists(), "no status may be written when nothing was observed");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = env.tenantd_with_env(&["plan"], &[("DOCKER_HOST", &format!("tcp://127.0.0.1:{port}"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
}

#[test]
fn a_socket_it_may_not_use_is_told_apart_from_a_missing_one() {
    let Some(env) = Env::new("a_socket_it_may_not_use_is_told_apart_from_a_missing_one") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // The real engine's socket, as a user outside the docker group (nobody) sees it.
    std::fs::set_permissions(env.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_tenantd")])
        .arg("--config")
        .arg(&env.config)
        .args(["plan"])
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .output()
        .expect("setpriv runs");
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("permission denied on the socket") && err.contains("docker group"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");

    let missing = env.tenantd_with_env(&["plan"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    let err = stderr(&missing);
    assert!(err.contains("does not exist") && !err.contains("permission denied"), "{err}");
}

#[test]
fn validate_takes_any_path_and_reports_every_problem() {
    let env = Env::without_docker();
    let good = env.path("tmpXYZ123"); // a temp name without an extension, as Ansible passes it
    std::fs::write(&good, "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: acme }\nspec: { image: x }\n")
        .unwrap();
    let o = env.tenantd(&["validate", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    let bad = env.path("bad");
    std::fs::write(
        &bad,
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: Acme }\nspec: { image: x, colour: red }\n",
    )
    .unwrap();
    let o = env.tenantd(&["validate", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("bad:3:") && out.contains("/metadata/name"), "{out}");
    assert!(out.contains("colour"), "{out}");
}

#[test]
fn a_drain_deadline_shorter_than_the_health_interval_or_negative_is_refused_at_its_line() {
    let env = Env::without_docker();
    let file = env.path("acme.yaml");
    let spec = |drain: &str| {
        format!(
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{ name: acme }}\nspec:\n  image: x\n  health: {{ interval: 10s }}\n  rollout:\n    drainTimeout: {drain}\n"
        )
    };
    std::fs::write(&file, spec("5s")).unwrap();
    let o = env.tenantd(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("acme.yaml:8:") && out.contains("/spec/rollout/drainTimeout"), "{out}");
    assert!(out.contains("shorter than the health check interval 10s"), "{out}");

    std::fs::write(&file, spec("-5s")).unwrap();
    let out = stdout(&env.tenantd(&["validate", file.to_str().unwrap()]));
    assert!(out.contains("acme.yaml:8:") && out.contains("drainTimeout"), "{out}");

    std::fs::write(&file, spec("10s")).unwrap();
    let o = env.tenantd(&["validate", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn a_sidecar_named_ingress_is_refused() {
    let env = Env::without_docker();
    let file = env.path("acme.yaml");
    std::fs::write(
        &file,
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: acme }\nspec:\n  image: x\n  sidecars:\n    - { name: ingress, image: y }\n",
    )
    .unwrap();
    let o = env.tenantd(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("reserved for the tenant's ingress"), "{}", stdout(&o));
}
