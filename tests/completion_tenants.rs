//! Shell completion of tenant names: the arguments that name a tenant complete the tenants of
//! the specs in the tenants_dir of the config the command line would use; without a readable
//! config they complete none, silently, and the completion still succeeds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A config whose tenants_dir holds two specs: `acme` (named in a file called `one.yaml`, so the
/// name comes from the spec, not the file) and `globex` (a file that is not even YAML: its file
/// name is the best guess), besides files that are not specs.
fn config_with_two_tenants(dir: &Path) -> PathBuf {
    let tenants = dir.join("tenants.d");
    std::fs::create_dir_all(tenants.join("sub.yaml")).unwrap();
    std::fs::write(
        tenants.join("one.yaml"),
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n  image: example/runtime:1\n",
    )
    .unwrap();
    std::fs::write(tenants.join("globex.yml"), "metadata: [unclosed\n").unwrap();
    std::fs::write(tenants.join("notes.txt"), "not a spec").unwrap();
    std::fs::write(tenants.join(".hidden.yaml"), "metadata: { name: hidden }\n").unwrap();
    std::fs::write(tenants.join("initech.yaml~"), "metadata: { name: backup }\n").unwrap();
    let config = dir.join("tenantd.toml");
    std::fs::write(&config, "tenants_dir = \"tenants.d\"\nstate_dir = \"state\"\n").unwrap();
    config
}

/// What `tenantd` answers, as the bash script asks it, for the last of `words`.
fn ask(words: &[&str], env_config: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantd"));
    cmd.arg("--").args(words).env("COMPLETE", "bash").env("_CLAP_IFS", "\n");
    cmd.env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string()).env_remove("TENANTD_CONFIG");
    if let Some(config) = env_config {
        cmd.env("TENANTD_CONFIG", config);
    }
    cmd.output().expect("run tenantd")
}

fn candidates(words: &[&str], env_config: Option<&Path>) -> Vec<String> {
    let out = ask(words, env_config);
    assert!(out.status.success(), "{words:?}: {out:?}");
    assert!(out.stderr.is_empty(), "{words:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// The candidates that are not options.
fn names(words: &[&str], env_config: Option<&Path>) -> Vec<String> {
    candidates(words, env_config).into_iter().filter(|c| !c.starts_with('-')).collect()
}

#[test]
fn every_argument_that_names_a_tenant_completes_the_tenants_of_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_two_tenants(dir.path());
    let both = vec!["acme".to_string(), "globex".to_string()];
    for words in [
        &["tenantd", "status", ""][..],
        &["tenantd", "logs", "-f", ""],
        &["tenantd", "restart", ""],
        &["tenantd", "exec", "-it", ""],
        &["tenantd", "stats", "acme", ""],
        &["tenantd", "plan", "--target", ""],
        &["tenantd", "render", ""],
    ] {
        assert_eq!(names(words, Some(&config)), both, "{words:?}");
    }
    // What is typed so far narrows them down.
    assert_eq!(candidates(&["tenantd", "logs", "g"], Some(&config)), vec!["globex".to_string()]);
    // Arguments that do not name a tenant are not offered tenants.
    assert!(names(&["tenantd", "explain", ""], Some(&config)).is_empty());
}

#[test]
fn the_config_named_on_the_command_line_comes_before_the_environments() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_two_tenants(dir.path());
    let missing = dir.path().join("missing.toml");
    let config_arg = config.to_str().unwrap();
    assert_eq!(names(&["tenantd", "--config", config_arg, "status", ""], Some(&missing)), ["acme", "globex"]);
    let with_equals = format!("--config={config_arg}");
    assert_eq!(names(&["tenantd", "restart", &with_equals, "a"], Some(&missing)), ["acme"]);
}

#[test]
fn without_a_readable_config_nothing_is_offered_and_nothing_said() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    assert!(candidates(&["tenantd", "status", "a"], Some(&missing)).is_empty());
    assert!(names(&["tenantd", "logs", ""], Some(&missing)).is_empty());
    // A config that is not valid, or one whose tenants_dir is missing.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "tenants_dir = 7\n").unwrap();
    assert!(candidates(&["tenantd", "status", "a"], Some(&bad)).is_empty());
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "tenants_dir = \"nowhere\"\nstate_dir = \"s\"\n").unwrap();
    assert!(candidates(&["tenantd", "status", "a"], Some(&empty)).is_empty());
}

/// The whole path a TAB takes: bash runs the function `tenantd completions bash` registered,
/// which runs `tenantd` from `$PATH`.
#[test]
fn bash_completes_tenant_names_through_the_installed_script() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_two_tenants(dir.path());
    let script = Command::new(env!("CARGO_BIN_EXE_tenantd")).args(["completions", "bash"]).output().unwrap();
    assert!(script.status.success());
    let file = dir.path().join("tenantd.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tenantd")).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let program = format!(
        "source '{}'; COMP_WORDS=(tenantd --config '{}' status ''); COMP_CWORD=4; COMP_TYPE=9; \
         _clap_complete_tenantd tenantd '' status; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        config.display()
    );
    let out = Command::new("bash").arg("-c").arg(program).env("PATH", path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let offered = String::from_utf8(out.stdout).unwrap();
    let offered: Vec<&str> = offered.lines().filter(|l| !l.starts_with('-')).collect();
    assert_eq!(offered, ["acme", "globex"]);
}

#[test]
fn the_library_reads_the_names_the_specs_declare_else_their_file_names() {
    let dir = tempfile::tempdir().unwrap();
    config_with_two_tenants(dir.path());
    let names = tenantd::spec::declared_tenants(&dir.path().join("tenants.d")).unwrap();
    let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["acme", "globex"]);
    assert!(tenantd::spec::declared_tenants(&dir.path().join("nowhere")).is_err());
}

/// `COMPLETE` is a common name: set to anything but a shell's name, tenantd runs as usual.
#[test]
fn a_complete_variable_that_names_no_shell_is_ignored() {
    for value in ["1", "true", "tcsh", ""] {
        let out = Command::new(env!("CARGO_BIN_EXE_tenantd")).arg("--version").env("COMPLETE", value).output().unwrap();
        assert!(out.status.success(), "COMPLETE={value}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("tenantd {}", env!("CARGO_PKG_VERSION")));
    }
    // A shell's name, with no words to complete: the script that registers the completion.
    let out =
        Command::new(env!("CARGO_BIN_EXE_tenantd")).arg("--version").env("COMPLETE", "/bin/bash").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("_clap_complete_tenantd"), "{out:?}");
}
