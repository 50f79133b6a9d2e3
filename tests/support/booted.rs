//! A Debian system with a real systemd as PID 1, booted as a container of the engine: its root
//! filesystem made by `mmdebstrap` from Debian's packages and imported once (the image's tag
//! names its inputs, so a changed recipe builds a new image and an unchanged one is reused).
//! support/machine.rs (the package's system service) and support/user_machine.rs (its user
//! unit on rootless Podman) boot theirs from here.
//!
//! Without root or mmdebstrap nothing is booted: the test prints `SKIPPED`, or fails under
//! `TENANTD_REQUIRE_SYSTEMD=1`.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::{docker, eventually, stderr, stdout};

/// The Debian release every machine is made of.
const SUITE: &str = "bookworm";

/// How long systemd may take to boot, and a unit to settle.
pub const BOOT: Duration = Duration::from_secs(60);

fn require() -> bool {
    std::env::var("TENANTD_REQUIRE_SYSTEMD").as_deref() == Ok("1")
}

/// Panics under `TENANTD_REQUIRE_SYSTEMD=1`, else prints a visible SKIPPED line.
pub fn skip(test: &str, problem: &str) {
    if require() {
        panic!("{test}: {problem}, and TENANTD_REQUIRE_SYSTEMD=1");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {problem}; set TENANTD_REQUIRE_SYSTEMD=1 to fail instead");
}

/// What a machine's image is made of.
pub struct Recipe {
    /// The image's repository, e.g. `tenantd-test/systemd`.
    pub repository: &'static str,
    pub packages: &'static [&'static str],
    /// Bumped when the recipe changes in a way the suite and packages do not show.
    pub version: u32,
}

impl Recipe {
    /// The image's tag: the suite, the version and a digest of the package list (FNV-1a, stable
    /// across Rust releases; the list itself is too long for a tag).
    pub fn tag(&self) -> String {
        let digest = self
            .packages
            .join(",")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        format!("{}:{SUITE}-r{}-{digest:016x}", self.repository, self.version)
    }

    /// The image's tag once the engine has it, built now if it has not. `Err` is a problem that
    /// means "skip"; a build that fails is a failure.
    fn ensure(&self) -> Result<String, String> {
        let tag = self.tag();
        let lock_path = format!("/run/lock/{}.lock", self.repository.replace('/', "-"));
        let lock = std::fs::File::create(&lock_path).map_err(|e| format!("{lock_path}: {e}"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| format!("flock: {e}"))?;
        if docker(&["image", "inspect", "--format", "{{.Id}}", &tag]).status.success() {
            return Ok(tag);
        }
        if !Command::new("mmdebstrap").arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Err("mmdebstrap cannot be run (apt-get install mmdebstrap)".into());
        }
        let include = format!("--include={}", self.packages.join(","));
        let mut build = Command::new("mmdebstrap")
            .args(["--variant=minbase", "--quiet", &include, SUITE, "-"])
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
        assert!(built.status.success(), "mmdebstrap failed: {}", String::from_utf8_lossy(&built.stderr));
        assert!(import.status.success(), "docker import failed: {}", stderr(&import));
        Ok(tag)
    }

    /// The image's tag when `test` can boot a machine here (root, an engine, the image built),
    /// else None after saying why (or panicking, see [`skip`]).
    pub fn preflight(&self, test: &str) -> Option<String> {
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
        if uid != 0 {
            skip(test, "booting a systemd machine needs root");
            return None;
        }
        if !super::docker_available(test) {
            return None;
        }
        self.ensure().map_err(|problem| skip(test, &problem)).ok()
    }
}

/// A booted machine; dropping it (or [`Booted::remove`]) removes its container.
pub struct Booted {
    pub name: String,
    removed: bool,
}

impl Booted {
    /// Runs `tag` as `name` with systemd as PID 1, with `extra` arguments to `docker run`, and
    /// waits until systemd reports the system running.
    pub fn boot(name: String, tag: &str, extra: &[&str]) -> Booted {
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
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
        ];
        args.extend(extra);
        args.extend([tag, "/lib/systemd/systemd"]);
        let out = docker(&args);
        assert!(out.status.success(), "docker run: {}", stderr(&out));
        let booted = Booted { name, removed: false };
        let state = eventually("systemd in the machine to finish booting", BOOT, || {
            let state = stdout(&booted.exec(&["systemctl", "is-system-running"])).trim().to_string();
            matches!(state.as_str(), "running" | "degraded").then_some(state)
        });
        let failed = || stdout(&booted.exec(&["systemctl", "--failed", "--no-pager"]));
        assert_eq!(state, "running", "failed units:\n{}", failed());
        booted
    }

    /// Runs a command in the machine, as root.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend(args);
        docker(&all)
    }

    /// Runs a shell script in the machine, as root.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["bash", "-euo", "pipefail", "-c", script])
    }

    /// Runs a shell script that must succeed, as root; returns its stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "in the machine: {script}\n{}{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// Writes `contents` to `path` in the machine, with `mode`, as `user` (root when None).
    pub fn write_as(&self, user: Option<&str>, path: &str, contents: &str, mode: &str) {
        let script = format!("mkdir -p \"$(dirname '{path}')\" && cat > '{path}' && chmod {mode} '{path}'");
        let mut child = Command::new("docker")
            .args(["exec", "-i", "--user", user.unwrap_or("root"), &self.name, "sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker exec runs");
        child.stdin.take().unwrap().write_all(contents.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "writing {path}: {}", stderr(&out));
    }

    /// Writes `contents` to `path` in the machine as root, with `mode`.
    pub fn write(&self, path: &str, contents: &str, mode: &str) {
        self.write_as(None, path, contents, mode)
    }

    /// Copies a host file or directory to `to` in the machine, owned by `owner` (`user:group`).
    /// `docker cp` does not see the machine's tmpfs mounts (`/run`, `/tmp`), so it goes by way
    /// of the image's layer.
    pub fn copy_in(&self, from: &Path, to: &str, owner: &str) {
        let staging = format!("/root/copy-{}", from.file_name().unwrap().to_string_lossy());
        let out = docker(&["cp", from.to_str().unwrap(), &format!("{}:{staging}", self.name)]);
        assert!(out.status.success(), "docker cp {}: {}", from.display(), stderr(&out));
        self.sh_ok(&format!(
            "mkdir -p \"$(dirname '{to}')\" && rm -rf '{to}' && mv '{staging}' '{to}' && chown -R {owner} '{to}'"
        ));
    }

    /// Installs (or upgrades, or downgrades to) the package in `deb` with `dpkg -i`; returns
    /// dpkg's output.
    pub fn install(&self, deb: &Path) -> String {
        self.copy_in(deb, "/root/tenantd.deb", "root:");
        self.sh_ok("dpkg -i /root/tenantd.deb 2>&1 && rm /root/tenantd.deb")
    }

    /// Removes the machine's container now.
    pub fn remove(&mut self) {
        if std::mem::replace(&mut self.removed, true) {
            return;
        }
        let out = docker(&["rm", "-f", "-v", &self.name]);
        if !out.status.success() {
            let _ = writeln!(std::io::stderr(), "cleanup: docker rm {}: {}", self.name, stderr(&out));
        }
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        self.remove();
    }
}
