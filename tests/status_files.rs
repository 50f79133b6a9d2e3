//! The status directory on the host: status files are for tenantd and its group only (0640 in a
//! 0750 directory, narrowed when an earlier version left them wider), a link planted where the
//! directory, a status file or its temporary file belongs is never followed, and a status file
//! that holds no status is listed by `tenantd status` with its error (exit 1) and written anew
//! by the next pass, of `apply` and of the daemon. On the real filesystem, as root; the passes
//! against the real engine.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::daemon::*;
use support::*;
use tenantd::status::{StatusStore, TenantStatus};

const CONVERGE: Duration = Duration::from_secs(30);

fn status(tenant: &str, error: Option<&str>) -> TenantStatus {
    let json = serde_json::json!({
        "tenant": tenant, "phase": "Running", "conditions": [], "health": "healthy", "restartCount": 0,
        "lastError": error,
    });
    serde_json::from_value(json).expect("a status")
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Owner, mode and content of `path` and of everything in it, not following links.
fn snapshot(path: &Path) -> Vec<(PathBuf, u32, u32, Vec<u8>)> {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let content = if meta.is_file() { std::fs::read(path).unwrap() } else { vec![] };
    let mut out = vec![(path.to_path_buf(), meta.uid(), meta.mode(), content)];
    if meta.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        out.extend(names.iter().flat_map(|p| snapshot(p)));
    }
    out
}

/// A status file's JSON, or None while it holds none.
fn status_json(env: &Env, tenant: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(env.status_path(tenant)).ok()?).ok()
}

#[test]
fn status_files_and_their_directory_are_for_tenantd_and_its_group_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::new(dir.path().join("status"));
    store.prepare().unwrap();
    assert!(store.write(&status("acme", Some("an error someone should not read"))).unwrap());
    assert_eq!((mode(store.dir()), mode(&store.path(&"acme".parse().unwrap()))), (0o750, 0o640));

    // As an earlier version left them: the next write narrows the file even when its content
    // stays, and preparing the directory narrows it and every status file in it.
    let acme = store.path(&"acme".parse().unwrap());
    std::fs::write(store.dir().join("beta.json"), serde_json::to_string(&status("beta", None)).unwrap()).unwrap();
    for (path, wide) in
        [(store.dir().to_path_buf(), 0o755), (acme.clone(), 0o644), (store.dir().join("beta.json"), 0o666)]
    {
        chmod(&path, wide);
    }
    assert!(!store.write(&status("acme", Some("an error someone should not read"))).unwrap(), "same content");
    assert_eq!(mode(&acme), 0o640);
    store.prepare().unwrap();
    assert_eq!((mode(store.dir()), mode(&store.dir().join("beta.json"))), (0o750, 0o640));
}

#[test]
fn no_link_is_followed_where_a_status_file_or_its_directory_belongs() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "precious").unwrap();
    std::fs::write(victim.join(".tmp-old.1"), "looks like a leftover").unwrap();
    let victim_file = dir.path().join("victim.txt");
    std::fs::write(&victim_file, "precious").unwrap();
    let before = (snapshot(&victim), snapshot(&victim_file));
    let store = StatusStore::new(dir.path().join("status"));

    // The directory itself.
    std::os::unix::fs::symlink(&victim, store.dir()).unwrap();
    let e = store.prepare().unwrap_err().to_string();
    assert!(e.contains("symbolic link") && e.contains(&store.dir().display().to_string()), "{e}");
    let e = store.write(&status("acme", None)).unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!((snapshot(&victim), snapshot(&victim_file)), before);
    std::fs::remove_file(store.dir()).unwrap();

    // A status file, and the temporary file a write of this process would use.
    store.prepare().unwrap();
    let temp = format!(".tmp-acme.{}", std::process::id());
    for name in ["acme.json", temp.as_str()] {
        let at = store.dir().join(name);
        std::os::unix::fs::symlink(&victim_file, &at).unwrap();
        let e = store.write(&status("acme", None)).unwrap_err().to_string();
        assert!(e.contains("symbolic link") && e.contains(&at.display().to_string()), "{name}: {e}");
        assert_eq!((snapshot(&victim), snapshot(&victim_file)), before, "{name}");
        assert!(std::fs::symlink_metadata(&at).unwrap().file_type().is_symlink(), "{name}: left as it is");
        std::fs::remove_file(&at).unwrap();
    }
    assert!(store.write(&status("acme", None)).unwrap());

    // A link left in place fails its own tenant's write, not the directory's others.
    std::os::unix::fs::symlink(&victim_file, store.dir().join("beta.json")).unwrap();
    store.prepare().unwrap();
    assert!(store.write(&status("beta", None)).is_err());
    assert!(store.write(&status("acme", Some("changed"))).unwrap());
    assert_eq!((snapshot(&victim), snapshot(&victim_file)), before);
}

#[test]
fn status_lists_a_file_that_holds_no_status_with_its_error_and_exits_1() {
    let env = Env::without_docker();
    let dir = env.state.join("status");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acme.json"), serde_json::to_string(&status("acme", None)).unwrap()).unwrap();
    std::fs::write(dir.join("beta.json"), "{\"tenant\": \"beta\", \"pha").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("gamma.json")).unwrap();

    let out = env.tenantd(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let table = stdout(&out);
    let row =
        |t: &str| table.lines().find(|l| l.starts_with(t)).unwrap_or_else(|| panic!("{t} in:\n{table}")).to_string();
    assert!(row("acme").contains("Running"), "{table}");
    assert!(row("beta").contains("Unreadable") && row("beta").contains("beta.json: not a status file"), "{table}");
    assert!(row("gamma").contains("Unreadable") && row("gamma").contains("symbolic link"), "{table}");
    assert!(stderr(&out).contains("the status of beta cannot be read"), "{}", stderr(&out));

    for format in ["json", "yaml"] {
        let out = env.tenantd(&["status", "-o", format]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        let list: serde_json::Value = serde_yaml::from_str(&stdout(&out)).unwrap();
        let tenants: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["tenant"].as_str().unwrap()).collect();
        assert_eq!(tenants, ["acme", "beta", "gamma"], "{format}");
        assert_eq!(list[0]["phase"], "Running", "{format}");
        assert!(list[1]["error"].as_str().unwrap().contains("not a status file"), "{format}: {list}");
        assert!(list[2]["error"].as_str().unwrap().contains("symbolic link"), "{format}: {list}");
    }
    let one = env.tenantd(&["status", "beta", "-o", "json"]);
    assert_eq!(one.status.code(), Some(1));
    let one: serde_json::Value = serde_json::from_str(&stdout(&one)).unwrap();
    assert_eq!(one["tenant"], "beta");
    assert!(one["error"].as_str().unwrap().contains("not a status file"), "{one}");
    assert_eq!(env.tenantd(&["status", "acme"]).status.code(), Some(0));
}

/// An environment whose daemon samples nothing: a changing CPU figure must not be what makes
/// the daemon write a status again.
fn quiet_env(test: &str) -> Option<Env> {
    let env = Env::new(test)?;
    env.write_config("[daemon]\nresync_interval = \"1s\"\nstats_interval = \"1h\"\n");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    Some(env)
}

#[test]
fn apply_and_the_daemon_narrow_status_modes_an_earlier_version_left_wide() {
    let Some(env) = quiet_env("apply_and_the_daemon_narrow_status_modes_an_earlier_version_left_wide") else {
        return;
    };
    env.apply_ok();
    let status_dir = env.state.join("status");
    let acme = env.status_path("acme");
    assert_eq!((mode(&status_dir), mode(&acme)), (0o750, 0o640));

    // apply, with nothing to change: acme's status stays as it is, its mode does not.
    chmod(&status_dir, 0o755);
    chmod(&acme, 0o644);
    std::fs::write(status_dir.join("beta.json"), serde_json::to_string(&status("beta", None)).unwrap()).unwrap();
    chmod(&status_dir.join("beta.json"), 0o644);
    env.apply_ok();
    assert_eq!((mode(&status_dir), mode(&acme), mode(&status_dir.join("beta.json"))), (0o750, 0o640, 0o640));

    // The daemon, from its start.
    chmod(&status_dir, 0o755);
    chmod(&acme, 0o644);
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    eventually("the modes to be narrowed", CONVERGE, || {
        (mode(&status_dir) == 0o750 && mode(&acme) == 0o640).then_some(())
    });
}

#[test]
fn the_next_pass_of_apply_writes_a_corrupt_status_anew() {
    let Some(env) = quiet_env("the_next_pass_of_apply_writes_a_corrupt_status_anew") else {
        return;
    };
    env.apply_ok();
    let status_dir = env.state.join("status");
    // The tenant's own file, and one of a tenant the pass knows nothing else about.
    std::fs::write(env.status_path("acme"), "{").unwrap();
    std::fs::write(status_dir.join("gone.json"), "").unwrap();
    env.apply_ok();
    assert_eq!(status_json(&env, "acme").expect("acme's status written anew")["phase"], "Running");
    assert_eq!(status_json(&env, "gone").expect("gone's status written anew")["phase"], "Removed");
    assert_eq!(env.tenantd(&["status"]).status.code(), Some(0));
}

#[test]
fn the_next_full_pass_of_the_daemon_writes_a_corrupt_status_anew() {
    let Some(env) = quiet_env("the_next_full_pass_of_the_daemon_writes_a_corrupt_status_anew") else {
        return;
    };
    // One probe an hour: once the first one is recorded, nothing about the tenant changes, and
    // what the daemon last wrote is what it would write again.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("interval: 2s", "interval: 1h"));
    let _daemon = Daemon::start(&env);
    eventually("acme's first probe recorded", CONVERGE, || {
        status_json(&env, "acme").filter(|s| s["phase"] == "Running" && s["lastProbeLatencyMs"].is_u64())
    });
    std::fs::write(env.status_path("acme"), "not json").unwrap();
    std::fs::write(env.state.join("status/gone.json"), "").unwrap();
    eventually("acme's status to be written anew", CONVERGE, || {
        status_json(&env, "acme").filter(|s| s["phase"] == "Running")
    });
    eventually("gone's status to be written anew", CONVERGE, || {
        status_json(&env, "gone").filter(|s| s["phase"] == "Removed")
    });
    assert_eq!(env.tenantd(&["status"]).status.code(), Some(0));
}
