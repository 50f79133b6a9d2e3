//! A Debian machine with a real systemd as PID 1, for testing the packaged service as it runs:
//! a root filesystem made by `mmdebstrap` from Debian's packages, imported into the engine once
//! (the image's tag names its inputs, so a changed recipe builds a new one and an unchanged one
//! is reused), booted as a container with systemd as its init.
//!
//! The machine shares the host's network namespace and Docker socket: the tenantd inside it
//! drives the host's engine, publishes ports on the host's loopback and installs its nftables
//! rules in the host's namespace, exactly as it would on a machine of its own. The engine
//! resolves bind-mount sources on the host, so the directories tenantd hands to containers
//! (`/var/lib/tenantd`, and `/run/tenantd` on a tmpfs) are the host's, mounted at the same
//! paths. They are machine-wide names: the machine takes the lock the package test takes, never
//! boots where a tenantd is already installed, and removes the directories when it drops.
//!
//! Without mmdebstrap (or root) the machine is not booted: the test prints `SKIPPED`, or fails
//! under `TENANTD_REQUIRE_SYSTEMD=1`.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::{docker, eventually, stderr, stdout};

/// The Debian release and packages the machine is made of: systemd and its bus, and the
/// package's dependencies beyond the C library (`nftables`, and `procps` for `kill`).
const SUITE: &str = "bookworm";
const PACKAGES: &[&str] = &["systemd", "systemd-sysv", "dbus", "nftables", "procps"];
/// Bumped when the recipe changes in a way the suite and packages do not show.
const RECIPE: u32 = 1;

/// Machine-wide, shared with tests/deb_package.rs: whoever holds it may install the package and
/// use the paths below.
pub const HOST_PATHS_LOCK: &str = "/run/lock/tenantd-deb-package-test.lock";
/// The package's state and runtime directories, which must be the same on the host and in the
/// machine.
pub const STATE_DIR: &str = "/var/lib/tenantd";
pub const RUNTIME_DIR: &str = "/run/tenantd";

/// How long systemd may take to boot, and a unit to settle.
pub const BOOT: Duration = Duration::from_secs(60);

fn require() -> bool {
    std::env::var("TENANTD_REQUIRE_SYSTEMD").as_deref() == Ok("1")
}

/// Panics under `TENANTD_REQUIRE_SYSTEMD=1`, else prints a visible SKIPPED line.
fn skip(test: &str, problem: &str) {
    if require() {
        panic!("{test}: {problem}, and TENANTD_REQUIRE_SYSTEMD=1");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {problem}; set TENANTD_REQUIRE_SYSTEMD=1 to fail instead");
}

/// The image's tag: every input of the recipe, readable.
pub fn image_tag() -> String {
    format!("tenantd-test/systemd:{SUITE}-r{RECIPE}-{}", PACKAGES.join("."))
}

/// Builds the machine's image unless the engine has it. Returns a problem that means "skip".
fn ensure_image() -> Result<String, String> {
    let tag = image_tag();
    let lock_path = "/run/lock/tenantd-systemd-image.lock";
    let lock = std::fs::File::create(lock_path).map_err(|e| format!("{lock_path}: {e}"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| format!("flock: {e}"))?;
    if docker(&["image", "inspect", "--format", "{{.Id}}", &tag]).status.success() {
        return Ok(tag);
    }
    if !Command::new("mmdebstrap").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Err("mmdebstrap cannot be run (apt-get install mmdebstrap)".into());
    }
    let mut build = Command::new("mmdebstrap")
        .args(["--variant=minbase", "--quiet", &format!("--include={}", PACKAGES.join(",")), SUITE, "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("mmdebstrap: {e}"))?;
    let rootfs = build.stdout.take().expect("piped");
    let import = Command::new("docker")
        .args(["import", "--change", "CMD [\"/lib/systemd/systemd\"]", "-", &tag])
        .stdin(rootfs)
        .output()
        .expect("docker import runs");
    let built = build.wait_with_output().expect("mmdebstrap runs");
    // A failed build is a failure, not a skip: the tool is there and the archive is reachable.
    assert!(built.status.success(), "mmdebstrap failed: {}", String::from_utf8_lossy(&built.stderr));
    assert!(import.status.success(), "docker import failed: {}", stderr(&import));
    Ok(tag)
}

/// A booted machine. Dropping it removes the container, every engine object of `instance`,
/// its nftables table and the host directories it mounted.
pub struct Machine {
    pub name: String,
    /// The instance name the test's tenantd config uses.
    pub instance: String,
    mounted_runtime_dir: bool,
    _lock: std::fs::File,
}

impl Machine {
    /// Boots a machine for `test`, or returns None when it was skipped.
    pub fn boot(test: &str) -> Option<Machine> {
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
        if uid != 0 {
            skip(test, "booting a systemd machine needs root");
            return None;
        }
        if !super::docker_available(test) {
            return None;
        }
        let tag = match ensure_image() {
            Ok(tag) => tag,
            Err(problem) => {
                skip(test, &problem);
                return None;
            }
        };
        let lock = std::fs::File::create(HOST_PATHS_LOCK).unwrap_or_else(|e| panic!("{HOST_PATHS_LOCK}: {e}"));
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
        if let Some(path) =
            [STATE_DIR, RUNTIME_DIR, "/usr/bin/tenantd", "/etc/tenantd"].iter().find(|p| Path::new(p).exists())
        {
            skip(test, &format!("{path} exists: a tenantd is on this host, and the machine shares its paths"));
            return None;
        }
        let n = super::COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let instance = format!("sd{}x{n}", std::process::id());
        let mut machine =
            Machine { name: format!("tenantd-test-{instance}"), instance, mounted_runtime_dir: false, _lock: lock };
        machine.make_host_dirs();
        let volume = |p: &str| format!("{p}:{p}");
        let out = docker(&[
            "run",
            "-d",
            "--name",
            &machine.name,
            "--label",
            "io.tenantd.test=systemd-machine",
            "--cap-add",
            "SYS_ADMIN",
            "--cap-add",
            "NET_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
            "--cgroupns=host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
            "--network",
            "host",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-v",
            &volume(STATE_DIR),
            "-v",
            &volume(RUNTIME_DIR),
            &tag,
            "/lib/systemd/systemd",
        ]);
        assert!(out.status.success(), "docker run: {}", stderr(&out));
        let state = eventually("systemd in the machine to finish booting", BOOT, || {
            let state = stdout(&machine.exec(&["systemctl", "is-system-running"])).trim().to_string();
            matches!(state.as_str(), "running" | "degraded").then_some(state)
        });
        assert_eq!(
            state,
            "running",
            "failed units:\n{}",
            stdout(&machine.exec(&["systemctl", "--failed", "--no-pager"]))
        );
        // The engine mounts the machine's /run private; systemd needs it shared to hand
        // credentials (LoadCredential=) to a service, as it is on a machine of its own.
        machine.sh_ok("mount --make-rshared /run");
        Some(machine)
    }

    /// `/var/lib/tenantd` as a directory and `/run/tenantd` as a tmpfs, on the host, with the
    /// modes the package gives them.
    fn make_host_dirs(&mut self) {
        std::fs::create_dir(STATE_DIR).unwrap_or_else(|e| panic!("{STATE_DIR}: {e}"));
        std::fs::create_dir(RUNTIME_DIR).unwrap_or_else(|e| panic!("{RUNTIME_DIR}: {e}"));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=0700,size=16m", "tenantd-test", RUNTIME_DIR])
            .output()
            .expect("mount runs");
        assert!(out.status.success(), "mount -t tmpfs {RUNTIME_DIR}: {}", stderr(&out));
        self.mounted_runtime_dir = true;
    }

    /// Runs a command in the machine.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend(args);
        docker(&all)
    }

    /// Runs a shell script in the machine, as root.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["bash", "-euo", "pipefail", "-c", script])
    }

    /// Runs a shell script that must succeed; returns its stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "in the machine: {script}\n{}{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// Writes `contents` to `path` in the machine, with `mode`.
    pub fn write(&self, path: &str, contents: &str, mode: &str) {
        let mut child = Command::new("docker")
            .args([
                "exec",
                "-i",
                &self.name,
                "sh",
                "-c",
                &format!("mkdir -p \"$(dirname '{path}')\" && cat > '{path}' && chmod {mode} '{path}'"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker exec runs");
        child.stdin.take().unwrap().write_all(contents.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "writing {path}: {}", stderr(&out));
    }

    /// Copies a host file or directory into the machine (`docker cp` semantics): not into a
    /// tmpfs mount (`/run`, `/tmp`), which `docker cp` does not see.
    pub fn copy_in(&self, from: &Path, to: &str) {
        let out = docker(&["cp", from.to_str().unwrap(), &format!("{}:{to}", self.name)]);
        assert!(out.status.success(), "docker cp {} {to}: {}", from.display(), stderr(&out));
    }

    /// Installs (or upgrades, or downgrades to) the package in `deb` with `dpkg -i`; returns
    /// dpkg's output.
    pub fn install(&self, deb: &Path) -> String {
        // Not /tmp: `docker cp` writes to the image's layer, under the machine's tmpfs mounts.
        self.copy_in(deb, "/root/tenantd.deb");
        self.sh_ok("dpkg -i /root/tenantd.deb 2>&1 && rm /root/tenantd.deb")
    }

    /// A property of the tenantd unit (`systemctl show -p NAME --value`).
    pub fn unit(&self, property: &str) -> String {
        self.sh_ok(&format!("systemctl show -p {property} --value tenantd")).trim().to_string()
    }

    /// The unit's journal since boot, as bare messages (`journalctl -o cat`), with extra
    /// journalctl arguments.
    pub fn journal(&self, extra: &str) -> String {
        self.sh_ok(&format!("journalctl -u tenantd --no-pager -o cat {extra}"))
    }

    /// Waits until the unit's journal has a line containing `needle`, more than `already` of
    /// them counted from boot; returns the journal.
    pub fn wait_for_log(&self, needle: &str, already: usize, within: Duration) -> String {
        eventually(&format!("the journal to show {needle:?} (after {already} times)"), within, || {
            let journal = self.journal("");
            (journal.matches(needle).count() > already).then_some(journal)
        })
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let journal = self.sh("journalctl -u tenantd --no-pager -o short-monotonic | tail -n 80");
            let _ = writeln!(std::io::stderr(), "the machine's tenantd journal:\n{}", stdout(&journal));
        }
        let out = docker(&["rm", "-f", "-v", &self.name]);
        if !out.status.success() {
            let _ = writeln!(std::io::stderr(), "cleanup: docker rm {}: {}", self.name, stderr(&out));
        }
        super::cleanup_instance(&self.instance);
        super::remove_host_rules(&self.instance);
        if self.mounted_runtime_dir {
            let _ = Command::new("umount").arg(RUNTIME_DIR).output();
        }
        for dir in [RUNTIME_DIR, STATE_DIR] {
            if let Err(e) = std::fs::remove_dir_all(dir).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            }) {
                let _ = writeln!(std::io::stderr(), "cleanup: {dir}: {e}");
            }
        }
    }
}

/// The host's view of a path under the package's state or runtime directory.
pub fn host_path(path: &str) -> PathBuf {
    assert!(path.starts_with(STATE_DIR) || path.starts_with(RUNTIME_DIR), "{path} is not shared with the host");
    PathBuf::from(path)
}

/// The package of this build: the debug binary the tests run, packaged by
/// `scripts/package-deb.sh --profile dev --no-build` once per test process.
pub fn current_deb() -> PathBuf {
    static DEB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DEB.get_or_init(|| {
        let binary = Path::new(env!("CARGO_BIN_EXE_tenantd"));
        let profile_dir = binary.parent().unwrap();
        assert_eq!(profile_dir.file_name().unwrap(), "debug", "the tests run a debug build: {}", binary.display());
        let target_dir = profile_dir.parent().unwrap();
        package(super::repo_root(), target_dir, &target_dir.join("systemd-machine"), None)
    })
    .clone()
}

/// A plain HTTP GET on 127.0.0.1: the status code and body, or None when nothing answers.
pub fn http_body(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((code, body))
}

/// This build's package under another version, so that dpkg sees an upgrade from (or a
/// downgrade to) a package of the same Cargo.toml version.
pub fn current_deb_as(version: &str) -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_tenantd"));
    let target_dir = binary.parent().unwrap().parent().unwrap();
    package(super::repo_root(), target_dir, &target_dir.join(format!("systemd-machine/{version}")), Some(version))
}

/// The package of an earlier commit of this repository, built from that commit's own sources
/// and packaging (its Cargo.lock, unit, maintainer scripts) under
/// `target/upgrade-from/<commit>/`, once: a later run reuses the package. Its build shares this
/// build's intermediate artifacts (`build.build-dir`), so what did not change is not compiled
/// again.
/// Panics when the commit is not in this clone's history.
pub fn earlier_deb(commit: &str) -> PathBuf {
    let root = super::repo_root();
    let binary = Path::new(env!("CARGO_BIN_EXE_tenantd"));
    let debug_dir = binary.parent().unwrap();
    let work = debug_dir.parent().unwrap().join("upgrade-from").join(commit);
    let deb_dir = work.join("deb");
    if let Some(deb) = std::fs::read_dir(&deb_dir).ok().and_then(|mut d| d.find_map(|e| e.ok())) {
        return deb.path();
    }
    let has = || {
        let object = format!("{commit}^{{commit}}");
        let out = Command::new("git").arg("-C").arg(root).args(["cat-file", "-e", &object]).output();
        out.is_ok_and(|o| o.status.success())
    };
    if !has() {
        // A shallow clone: ask its origin for that one commit.
        let _ = Command::new("git").arg("-C").arg(root).args(["fetch", "--quiet", "origin", commit]).output();
    }
    assert!(
        has(),
        "commit {commit} is not in this clone's history; the upgrade test builds its package from it \
         (a shallow clone? git fetch --unshallow)"
    );
    let src = work.join("src");
    let target = work.join("target");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    let sh = |script: &str| {
        let out = Command::new("bash").args(["-euo", "pipefail", "-c", script]).output().expect("bash runs");
        assert!(out.status.success(), "{script}\n{}{}", stdout(&out), stderr(&out));
    };
    sh(&format!("git -C '{}' archive --format=tar {commit} | tar -x -C '{}'", root.display(), src.display()));
    let out = Command::new("cargo")
        .args(["build", "--locked", "--bin", "tenantd"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", &target)
        // Intermediate artifacts in this build's directory: the dependencies both commits
        // share are compiled once, and cargo's lock there keeps the two builds apart.
        .env("CARGO_BUILD_BUILD_DIR", debug_dir.parent().unwrap())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building {commit}: {}", stderr(&out));
    package(&src, &target, &deb_dir, None)
}

/// Runs `<checkout>/scripts/package-deb.sh --profile dev --no-build` on the debug binary in
/// `target_dir`; returns the package's path.
fn package(checkout: &Path, target_dir: &Path, out_dir: &Path, version: Option<&str>) -> PathBuf {
    let mut cmd = Command::new(checkout.join("scripts/package-deb.sh"));
    cmd.args(["--profile", "dev", "--no-build", "--output"]).arg(out_dir).env("CARGO_TARGET_DIR", target_dir);
    if let Some(version) = version {
        cmd.args(["--deb-version", version]);
    }
    let out = cmd.output().expect("scripts/package-deb.sh runs");
    assert!(out.status.success(), "{}/scripts/package-deb.sh: {}{}", checkout.display(), stdout(&out), stderr(&out));
    PathBuf::from(stdout(&out).trim())
}
