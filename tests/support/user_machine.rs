//! A Debian machine with a real systemd as PID 1 and one ordinary user, for testing tenantd's
//! systemd *user* unit on that user's rootless Podman: the user has subordinate ids and lingers,
//! so systemd runs `user@UID.service` (the user's own service manager) from boot, and the
//! user's `podman.socket` serves Podman's Docker-compatible API in `$XDG_RUNTIME_DIR`.
//!
//! Unlike the root machine (support/machine.rs) this one shares nothing with the host but its
//! network namespace (rootless Podman publishes ports with its own forwarder, on the host's
//! loopback): the tenants run on the Podman inside the machine, and their state, images and
//! secrets stay in the machine's `/home` and `/run`, which go with it. So machines may boot side
//! by side, and dropping one removes everything it made.
//!
//! The image is made by `mmdebstrap` from Debian's packages and imported once; its tag names the
//! recipe, so an unchanged recipe reuses it. Without mmdebstrap, root or `/dev/net/tun` the
//! machine is not booted: the test prints `SKIPPED`, or fails under `TENANTD_REQUIRE_SYSTEMD=1`.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::{docker, eventually, stderr, stdout};

/// The Debian release and packages the machine is made of: systemd with its user sessions
/// (`dbus-user-session`, `libpam-systemd`; `systemd-container` for `systemctl --user -M`),
/// the package's dependencies `nftables` and `procps`, and Podman with what it needs rootless (`uidmap` for
/// the user namespace, `slirp4netns` for the network, `fuse-overlayfs`, `catatonit` for the
/// init process tenantd asks for).
const SUITE: &str = "bookworm";
const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "dbus-user-session",
    "libpam-systemd",
    "systemd-container",
    "nftables",
    "procps",
    "podman",
    "uidmap",
    "slirp4netns",
    "fuse-overlayfs",
    "catatonit",
];
/// Bumped when the recipe changes in a way the suite and packages do not show.
const RECIPE: u32 = 1;

/// The machine's one user, who runs tenantd.
pub const USER: &str = "alice";
pub const UID: u32 = 1000;
pub const HOME: &str = "/home/alice";

/// The user unit's journal entries: its processes' (`_SYSTEMD_USER_UNIT`) and the user
/// manager's about it (`USER_UNIT`). Not `--user-unit`, which as root also matches `_UID=0`.
const JOURNAL_MATCH: &str = "_SYSTEMD_USER_UNIT=tenantd.service + USER_UNIT=tenantd.service";

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

/// The image's tag: the suite, the recipe and a digest of the package list (FNV-1a, stable
/// across Rust releases; the list itself is too long for a tag).
pub fn image_tag() -> String {
    let digest = PACKAGES
        .join(",")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("tenantd-test/systemd-podman:{SUITE}-r{RECIPE}-{digest:016x}")
}

/// Builds the machine's image unless the engine has it. Returns a problem that means "skip".
fn ensure_image() -> Result<String, String> {
    let tag = image_tag();
    let lock_path = "/run/lock/tenantd-systemd-podman-image.lock";
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

/// A booted machine whose user's service manager runs. Dropping it removes the container and,
/// with it, everything the user's Podman made.
pub struct UserMachine {
    pub name: String,
}

impl UserMachine {
    /// Boots a machine for `test` and waits for its user's service manager, or returns None
    /// when it was skipped.
    pub fn boot(test: &str) -> Option<UserMachine> {
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
        if uid != 0 {
            skip(test, "booting a systemd machine needs root");
            return None;
        }
        if !Path::new("/dev/net/tun").exists() {
            skip(test, "there is no /dev/net/tun, which rootless Podman's network (slirp4netns) needs");
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
        let n = super::COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let machine = UserMachine { name: format!("tenantd-test-usr{}x{n}", std::process::id()) };
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
            // Rootless Podman mounts a fresh /proc for its containers, which the kernel allows
            // only where /proc is not partly masked: `crun: mount 'proc' to 'proc': Operation
            // not permitted` otherwise.
            "--security-opt",
            "systempaths=unconfined",
            "--cgroupns=host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
            // Podman's storage cannot be on the machine's own overlay root.
            "--tmpfs",
            "/home:exec,mode=755",
            "--network",
            "host",
            "--device",
            "/dev/net/tun",
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
        // The device node comes with the engine's default mode, root's only.
        machine.sh_ok("chmod 666 /dev/net/tun");
        machine.sh_ok(&format!("useradd --create-home --shell /bin/bash {USER} && loginctl enable-linger {USER}"));
        let ids = machine.sh_ok(&format!("id -u {USER}; grep ^{USER}: /etc/subuid"));
        assert!(ids.starts_with(&format!("{UID}\n{USER}:")), "the user and their subordinate ids: {ids}");
        eventually(&format!("user@{UID}.service to run"), BOOT, || {
            let state = stdout(&machine.exec(&["systemctl", "is-active", &format!("user@{UID}.service")]));
            (state.trim() == "active").then_some(())
        });
        Some(machine)
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

    /// Runs a shell script that must succeed as the user, in their home, with the environment
    /// of their session (`XDG_RUNTIME_DIR`); returns its stdout.
    pub fn user_sh_ok(&self, script: &str) -> String {
        let out = docker(&[
            "exec",
            "--user",
            USER,
            "--workdir",
            HOME,
            "--env",
            &format!("HOME={HOME}"),
            "--env",
            &format!("XDG_RUNTIME_DIR=/run/user/{UID}"),
            &self.name,
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
        ]);
        assert!(out.status.success(), "in the machine, as {USER}: {script}\n{}{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// Writes `contents` to `path` in the machine as the user (who owns the file), with `mode`.
    pub fn user_write(&self, path: &str, contents: &str, mode: &str) {
        let mut child = Command::new("docker")
            .args(["exec", "-i", "--user", USER, &self.name, "sh", "-c"])
            .arg(format!("mkdir -p \"$(dirname '{path}')\" && cat > '{path}' && chmod {mode} '{path}'"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker exec runs");
        child.stdin.take().unwrap().write_all(contents.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "writing {path}: {}", stderr(&out));
    }

    /// Copies a host file or directory to `to` in the machine, owned by the user. `docker cp`
    /// does not see the machine's tmpfs mounts (`/home`, `/run`, `/tmp`), so it goes by way of
    /// the image's layer.
    pub fn user_copy_in(&self, from: &Path, to: &str) {
        let staging = format!("/root/copy-{}", from.file_name().unwrap().to_string_lossy());
        let out = docker(&["cp", from.to_str().unwrap(), &format!("{}:{staging}", self.name)]);
        assert!(out.status.success(), "docker cp {}: {}", from.display(), stderr(&out));
        self.sh_ok(&format!(
            "mkdir -p \"$(dirname '{to}')\" && rm -rf '{to}' && mv '{staging}' '{to}' && chown -R {USER}: '{to}'"
        ));
    }

    /// Installs the package in `deb` with `dpkg -i`; returns dpkg's output.
    pub fn install(&self, deb: &Path) -> String {
        // Not /tmp: `docker cp` writes to the image's layer, under the machine's tmpfs mounts.
        let out = docker(&["cp", deb.to_str().unwrap(), &format!("{}:/root/tenantd.deb", self.name)]);
        assert!(out.status.success(), "docker cp {}: {}", deb.display(), stderr(&out));
        self.sh_ok("dpkg -i /root/tenantd.deb 2>&1 && rm /root/tenantd.deb")
    }

    /// `systemctl --user VERB UNIT` in the user's service manager.
    pub fn user_systemctl(&self, verb: &str, unit: &str) -> String {
        self.sh_ok(&format!("systemctl --user -M {USER}@ {verb} {unit}"))
    }

    /// A property of the user's tenantd unit (`systemctl --user show -p NAME --value`).
    pub fn unit(&self, property: &str) -> String {
        self.user_systemctl(&format!("show -p {property} --value"), "tenantd").trim().to_string()
    }

    /// The user unit's journal since boot, as bare messages (`journalctl -o cat`): tenantd's
    /// own lines and the user manager's about the unit.
    pub fn journal(&self) -> String {
        self.sh_ok(&format!("journalctl --no-pager -o cat {JOURNAL_MATCH}"))
    }

    /// Waits until the unit's journal has a line containing `needle`, more than `already` of
    /// them counted from boot; returns the journal.
    pub fn wait_for_log(&self, needle: &str, already: usize, within: Duration) -> String {
        eventually(&format!("the journal to show {needle:?} (after {already} times)"), within, || {
            let journal = self.journal();
            (journal.matches(needle).count() > already).then_some(journal)
        })
    }
}

impl Drop for UserMachine {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let journal = self.sh(&format!("journalctl --no-pager -o short-monotonic {JOURNAL_MATCH} | tail -n 80"));
            let _ = writeln!(std::io::stderr(), "the machine's tenantd user journal:\n{}", stdout(&journal));
        }
        let out = docker(&["rm", "-f", "-v", &self.name]);
        if !out.status.success() {
            let _ = writeln!(std::io::stderr(), "cleanup: docker rm {}: {}", self.name, stderr(&out));
        }
    }
}
