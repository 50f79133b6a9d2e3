//! A config file that is not there: the error names the path and the OS error once, and a hint
//! says how to point tenantd at its config and which file it reads by default.

use std::process::{Command, Output};

fn tenantd(args: &[&str], config_env: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantd"));
    cmd.args(args).env_remove("TENANTD_CONFIG").env_remove("CONTAINER_RUNTIME");
    if let Some(path) = config_env {
        cmd.env("TENANTD_CONFIG", path);
    }
    cmd.output().expect("tenantd runs")
}

fn assert_reported_once_with_a_hint(o: &Output, missing: &std::path::Path) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("error: cannot read config file {}: No such file or directory", missing.display())),
        "{err}"
    );
    assert_eq!(err.matches("No such file or directory").count(), 1, "the OS error is told once:\n{err}");
    let hint = err.lines().find(|l| l.starts_with("hint: ")).unwrap_or_else(|| panic!("no hint:\n{err}"));
    for part in ["--config PATH", "TENANTD_CONFIG", "/etc/tenantd/tenantd.toml"] {
        assert!(hint.contains(part), "the hint does not mention {part}: {hint}");
    }
}

#[test]
fn a_wrong_config_path_is_reported_once_with_how_to_name_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let o = tenantd(&["--config", missing.to_str().unwrap(), "status"], None);
    assert_reported_once_with_a_hint(&o, &missing);
    // Named by the environment instead, and by a command that reads the config only for its
    // tenants directory.
    let o = tenantd(&["validate"], Some(&missing));
    assert_reported_once_with_a_hint(&o, &missing);
}

#[test]
fn a_config_that_cannot_be_parsed_gets_no_such_hint() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenantd.toml");
    std::fs::write(&config, "tenants_dir = [\n").unwrap();
    let o = tenantd(&["--config", config.to_str().unwrap(), "status"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is not valid"), "{err}");
    assert!(!err.contains("hint:"), "the file was found: nothing to say about where it is\n{err}");
}
