//! The .deb on this machine: built from the debug binary by `scripts/package-deb.sh`, installed
//! with `dpkg -i`, used as a newcomer would (`tenantd validate` on a spec dropped into
//! /etc/tenantd/tenants.d, `tenantd status`, the man pages, the completions), its unit checked
//! with `systemd-analyze verify`, then purged, leaving nothing behind.
//!
//! Needs root, dpkg, cargo-deb and systemd-analyze. Without them it prints `SKIPPED`; with
//! `TENANTD_REQUIRE_DEB=1` it fails instead. A tenantd already installed on the machine (or its
//! leftovers in /etc/tenantd, /var/lib/tenantd, /usr/bin/tenantd) is never touched: the test
//! stops there, and fails under `TENANTD_REQUIRE_DEB=1`. Nothing here needs the Docker engine.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PACKAGE: &str = "tenantd";
const UNIT: &str = "/usr/lib/systemd/system/tenantd.service";
const CONFIG_DIR: &str = "/etc/tenantd";
const TENANTS_DIR: &str = "/etc/tenantd/tenants.d";
const CONFIG: &str = "/etc/tenantd/tenantd.toml";

/// What the package ships, with the mode each file must have.
const SHIPPED: &[(&str, u32)] = &[
    ("/usr/bin/tenantd", 0o755),
    (CONFIG, 0o640),
    (UNIT, 0o644),
    ("/usr/lib/systemd/user/tenantd.service", 0o644),
    ("/usr/lib/tmpfiles.d/tenantd.conf", 0o644),
    ("/usr/share/man/man1/tenantd.1.gz", 0o644),
    ("/usr/share/man/man1/tenantd-plan.1.gz", 0o644),
    ("/usr/share/man/man1/tenantd-secrets-keygen.1.gz", 0o644),
    ("/usr/share/man/man5/tenantd.toml.5.gz", 0o644),
    ("/usr/share/bash-completion/completions/tenantd", 0o644),
    ("/usr/share/zsh/vendor-completions/_tenantd", 0o644),
    ("/usr/share/fish/vendor_completions.d/tenantd.fish", 0o644),
];

/// What postinst creates, with its mode; never part of the package's file list.
const CREATED: &[(&str, u32)] =
    &[(CONFIG_DIR, 0o750), (TENANTS_DIR, 0o750), ("/var/lib/tenantd", 0o700), ("/run/tenantd", 0o700)];

/// Machine-wide, so that two checkouts running this test at once take turns with the one dpkg;
/// the systemd machines take it too (tests/support/machine.rs, HOST_PATHS_LOCK), since they
/// share the host's tenantd paths.
const LOCK: &str = "/run/lock/tenantd-deb-package-test.lock";

fn require() -> bool {
    std::env::var("TENANTD_REQUIRE_DEB").as_deref() == Ok("1")
}

/// Panics under `TENANTD_REQUIRE_DEB=1`, else prints a visible SKIPPED line.
fn skip(problem: &str) {
    if require() {
        panic!("{problem}, and TENANTD_REQUIRE_DEB=1");
    }
    // Straight to the stream: the harness shows captured output only for failures.
    let _ = writeln!(std::io::stderr(), "SKIPPED: deb_package: {problem}; set TENANTD_REQUIRE_DEB=1 to fail instead");
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

/// What this machine lacks for the test, if anything.
fn missing_prerequisite() -> Option<String> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if uid != 0 {
        return Some("dpkg -i needs root".into());
    }
    for (program, args, what) in [
        ("dpkg", &["--version"][..], "dpkg"),
        ("cargo", &["deb", "--version"][..], "cargo-deb (cargo install cargo-deb --locked)"),
        ("systemd-analyze", &["--version"][..], "systemd-analyze"),
    ] {
        if !runs(program, args) {
            return Some(format!("{what} cannot be run"));
        }
    }
    None
}

/// A tenantd this test did not install, if there is one.
fn foreign_installation() -> Option<String> {
    let status = Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]).output().expect("dpkg-query");
    let status = String::from_utf8_lossy(&status.stdout).trim().to_string();
    // "not-installed" is what dpkg remembers of a package purged before; anything else is in use.
    if !status.is_empty() && !status.ends_with("not-installed") {
        return Some(format!("the {PACKAGE} package is on this machine ({status})"));
    }
    ["/usr/bin/tenantd", CONFIG_DIR, "/var/lib/tenantd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(|p| format!("{p} exists outside of any package"))
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every path under the system's directories whose name mentions tenantd, except the
/// container engine's own state (tenants of other tests live there).
fn paths_named_tenantd() -> BTreeSet<String> {
    let out = run(Command::new("find")
        .args(["/etc", "/usr", "/var/lib", "/var/cache", "/run", "-xdev", "("])
        .args(["-path", "/var/lib/docker", "-o", "-path", "/var/lib/containerd", "-o", "-path", "/run/docker"])
        .args(["-o", "-path", "/run/containerd", "-o", "-path", "/run/netns", ")", "-prune", "-o"])
        .args(["-name", "*tenantd*", "-print"]));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// Purges the package when dropped, whatever failed before.
struct Installed {
    purged: bool,
}

impl Installed {
    fn purge(&mut self) -> Output {
        self.purged = true;
        run(Command::new("dpkg").args(["--purge", PACKAGE]))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.purged {
            let out = self.purge();
            let _ = writeln!(
                std::io::stderr(),
                "deb_package: purged after a failure ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Builds the .deb from the debug binary of this build, into `out_dir`.
fn build_deb(out_dir: &Path) -> PathBuf {
    // The binary under test is <target>/debug/tenantd: package exactly that one, without
    // another cargo build.
    let binary = Path::new(env!("CARGO_BIN_EXE_tenantd"));
    let profile_dir = binary.parent().unwrap();
    assert_eq!(profile_dir.file_name().unwrap(), "debug", "the test runs a debug build: {}", binary.display());
    let target_dir = profile_dir.parent().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package-deb.sh");
    let out = run(Command::new(script)
        .args(["--profile", "dev", "--no-build", "--output"])
        .arg(out_dir)
        .env("CARGO_TARGET_DIR", target_dir));
    assert_success("scripts/package-deb.sh", &out);
    let deb = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(deb.starts_with(out_dir) && deb.extension().is_some_and(|e| e == "deb"), "{}", deb.display());
    deb
}

fn mode(path: &str) -> u32 {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    meta.permissions().mode() & 0o7777
}

/// `systemd-analyze verify` on the installed unit, against the installed binary. Lines about
/// the host's other units (docker.service and what it pulls in) are tolerated, as in
/// tests/systemd_unit.rs; every line about this unit names tenantd.
fn assert_unit_verifies() {
    let out = run(Command::new("systemd-analyze").args(["verify", UNIT]));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let about_unit: Vec<&str> = text.lines().filter(|l| l.contains("tenantd")).collect();
    assert!(about_unit.is_empty(), "systemd-analyze verify {UNIT}:\n{}", about_unit.join("\n"));
    assert_success("systemd-analyze verify", &out);
}

/// A spec that validates on any machine: an image, no build context.
const SPEC: &str = "apiVersion: tenantd/v1
kind: Tenant
metadata: { name: debcheck }
spec:
  image: registry.example/openclaw:2026.11
  port: 18789
";

#[test]
fn deb_installs_works_and_purges_cleanly() {
    if let Some(problem) = missing_prerequisite() {
        skip(&problem);
        return;
    }
    let lock = std::fs::File::create(LOCK).unwrap_or_else(|e| panic!("{LOCK}: {e}"));
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    if let Some(problem) = foreign_installation() {
        skip(&format!("{problem}; this test installs and purges {PACKAGE} and will not touch it"));
        return;
    }

    let work = tempfile::tempdir().unwrap();
    let deb = build_deb(work.path());
    let before = paths_named_tenantd();

    let mut installed = Installed { purged: false };
    assert_success("dpkg -i", &run(Command::new("dpkg").arg("-i").arg(&deb)));

    // The files, where the package says they are, with their modes.
    let listed = run(Command::new("dpkg").args(["-L", PACKAGE]));
    assert_success("dpkg -L", &listed);
    let listed: Vec<String> = String::from_utf8_lossy(&listed.stdout).lines().map(str::to_string).collect();
    for (path, expected) in SHIPPED {
        assert!(listed.iter().any(|l| l == path), "{path} is not in dpkg -L {PACKAGE}:\n{}", listed.join("\n"));
        assert_eq!(mode(path), *expected, "mode of {path}: {:o}", mode(path));
    }
    let conffiles = run(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PACKAGE]));
    assert!(String::from_utf8_lossy(&conffiles.stdout).contains(CONFIG), "{CONFIG} is a conffile");
    for (path, expected) in CREATED {
        assert!(Path::new(path).is_dir(), "{path} was not created");
        assert_eq!(mode(path), *expected, "mode of {path}: {:o}", mode(path));
    }
    assert_eq!(std::fs::read_dir(TENANTS_DIR).unwrap().count(), 0, "{TENANTS_DIR} starts empty");
    // Not shipped as a file: dpkg would otherwise own the directory the admin fills.
    assert!(!listed.iter().any(|l| l == TENANTS_DIR), "{TENANTS_DIR} is in the package's file list");

    let version = run(Command::new("/usr/bin/tenantd").arg("--version"));
    assert_success("tenantd --version", &version);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("tenantd {}", env!("CARGO_PKG_VERSION")));

    // A newcomer's first steps, with the packaged config: drop a spec in, validate, status.
    let spec = Path::new(TENANTS_DIR).join("debcheck.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let valid = run(Command::new("/usr/bin/tenantd").arg("validate"));
    let broken = Path::new(TENANTS_DIR).join("broken.yaml");
    std::fs::write(&broken, SPEC.replace("port: 18789", "port: many")).unwrap();
    let invalid = run(Command::new("/usr/bin/tenantd").arg("validate"));
    let status = run(Command::new("/usr/bin/tenantd").arg("status"));
    // The installed bash completion offers the tenant, read with the packaged config.
    let completed = run(Command::new("bash").env_remove("TENANTD_CONFIG").arg("-c").arg(
        "source /usr/share/bash-completion/completions/tenantd && COMP_WORDS=(tenantd status '') && COMP_CWORD=2 \
         && COMP_TYPE=9 && _clap_complete_tenantd tenantd '' status && printf '%s\\n' \"${COMPREPLY[@]}\"",
    ));
    std::fs::remove_file(&spec).unwrap();
    std::fs::remove_file(&broken).unwrap();
    assert_success("tenantd validate", &valid);
    assert!(String::from_utf8_lossy(&valid.stderr).contains("1 tenant spec(s) valid"), "{valid:?}");
    assert_eq!(invalid.status.code(), Some(1), "an invalid spec fails validate: {invalid:?}");
    assert!(String::from_utf8_lossy(&invalid.stdout).contains("broken.yaml"), "{invalid:?}");
    assert_success("tenantd status", &status);
    assert_success("bash completion of tenant names", &completed);
    assert!(String::from_utf8_lossy(&completed.stdout).lines().any(|l| l == "debcheck"), "{completed:?}");

    assert_unit_verifies();

    // The man page is where man looks, and is the page of this binary.
    let page = run(Command::new("gzip").args(["-dc", "/usr/share/man/man1/tenantd.1.gz"]));
    assert_success("gzip -dc tenantd.1.gz", &page);
    assert!(String::from_utf8_lossy(&page.stdout).contains(".TH tenantd 1"), "not a tenantd(1) page");
    if runs("man", &["--version"]) {
        let found = run(Command::new("man").args(["-w", "tenantd"]));
        assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), "/usr/share/man/man1/tenantd.1.gz");
        let found = run(Command::new("man").args(["-w", "5", "tenantd.toml"]));
        assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), "/usr/share/man/man5/tenantd.toml.5.gz");
    }
    // The bash completion loads and registers itself for tenantd.
    let completion = run(Command::new("bash")
        .arg("-c")
        .arg("source /usr/share/bash-completion/completions/tenantd && complete -p tenantd"));
    assert_success("loading the bash completion", &completion);

    let purge = installed.purge();
    assert_success("dpkg --purge", &purge);
    let said = format!("{}{}", String::from_utf8_lossy(&purge.stdout), String::from_utf8_lossy(&purge.stderr));
    assert!(!said.contains("warning"), "dpkg --purge warned:\n{said}");

    let status = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]));
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.is_empty() || status.ends_with("not-installed"), "still known to dpkg: {status}");
    for path in listed.iter().filter(|p| p.contains("tenantd")) {
        assert!(!Path::new(path).exists(), "{path} is left after purge");
    }
    for (path, _) in CREATED {
        assert!(!Path::new(path).exists(), "{path} is left after purge");
    }
    let after = paths_named_tenantd();
    let stray: Vec<&String> = after.difference(&before).collect();
    assert!(stray.is_empty(), "left after purge: {stray:?}");
}
