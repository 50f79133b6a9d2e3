//! The machine the package's system service is tested in: a Debian system with systemd as PID 1
//! (support/booted.rs) that shares the host's network namespace and Docker socket, so the
//! tenantd inside drives the host's engine, publishes ports on the host's loopback and installs
//! its nftables rules in the host's namespace, exactly as it would on a machine of its own.
//!
//! The engine resolves bind-mount sources on the host, so the directories tenantd hands to
//! containers (`/var/lib/tenantd`, and `/run/tenantd` on a tmpfs) are the host's, mounted at the
//! same paths. They are machine-wide names: a machine takes the lock the package test takes,
//! never boots where a tenantd is already installed, and removes the directories when it drops.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::booted::{skip, Booted, Recipe};
use super::{eventually, stderr, stdout};

/// systemd and its bus, and the package's dependencies beyond the C library (`nftables`, and
/// `procps` for `kill`).
const RECIPE: Recipe = Recipe {
    repository: "tenantd-test/systemd",
    packages: &["systemd", "systemd-sysv", "dbus", "nftables", "procps"],
    version: 1,
};

/// Machine-wide, shared with tests/deb_package.rs: whoever holds it may install the package and
/// use the paths below.
pub const HOST_PATHS_LOCK: &str = "/run/lock/tenantd-deb-package-test.lock";
/// The package's state and runtime directories, which must be the same on the host and in the
/// machine.
pub const STATE_DIR: &str = "/var/lib/tenantd";
pub const RUNTIME_DIR: &str = "/run/tenantd";

/// A booted machine; it derefs to its [`Booted`] container for running things in it. Dropping
/// it removes the container, every engine object of `instance`, its nftables table and the host
/// directories it mounted.
pub struct Machine {
    booted: Booted,
    /// The instance name the test's tenantd config uses.
    pub instance: String,
    _host_dirs: HostDirs,
    _lock: std::fs::File,
}

impl std::ops::Deref for Machine {
    type Target = Booted;
    fn deref(&self) -> &Booted {
        &self.booted
    }
}

impl Machine {
    /// Boots a machine for `test`, or returns None when it was skipped.
    pub fn boot(test: &str) -> Option<Machine> {
        let tag = RECIPE.preflight(test)?;
        let lock = std::fs::File::create(HOST_PATHS_LOCK).unwrap_or_else(|e| panic!("{HOST_PATHS_LOCK}: {e}"));
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
        let installed = [STATE_DIR, RUNTIME_DIR, "/usr/bin/tenantd", "/etc/tenantd"];
        if let Some(path) = installed.iter().find(|p| Path::new(p).exists()) {
            skip(test, &format!("{path} exists: a tenantd is on this host, and the machine shares its paths"));
            return None;
        }
        let n = super::COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let instance = format!("sd{}x{n}", std::process::id());
        let host_dirs = HostDirs::make();
        let volume = |p: &str| format!("{p}:{p}");
        let (state, runtime) = (volume(STATE_DIR), volume(RUNTIME_DIR));
        let shared = ["-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", &state, "-v", &runtime];
        let booted = Booted::boot(format!("tenantd-test-{instance}"), &tag, &shared);
        // The engine mounts the machine's /run private; systemd needs it shared to hand
        // credentials (LoadCredential=) to a service, as it is on a machine of its own.
        booted.sh_ok("mount --make-rshared /run");
        Some(Machine { booted, instance, _host_dirs: host_dirs, _lock: lock })
    }

    /// Copies a host file or directory into the machine, owned by root.
    pub fn copy_in(&self, from: &Path, to: &str) {
        self.booted.copy_in(from, to, "root:");
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
        // The machine first, so that no tenantd is left to act while its objects go.
        self.booted.remove();
        super::cleanup_instance(&self.instance);
        super::remove_host_rules(&self.instance);
    }
}

/// `/var/lib/tenantd` as a directory and `/run/tenantd` as a tmpfs, on the host, with the modes
/// the package gives them; unmounted and removed when dropped.
struct HostDirs;

impl HostDirs {
    fn make() -> HostDirs {
        std::fs::create_dir(STATE_DIR).unwrap_or_else(|e| panic!("{STATE_DIR}: {e}"));
        let dirs = HostDirs;
        std::fs::create_dir(RUNTIME_DIR).unwrap_or_else(|e| panic!("{RUNTIME_DIR}: {e}"));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=0700,size=16m", "tenantd-test", RUNTIME_DIR])
            .output()
            .expect("mount runs");
        assert!(out.status.success(), "mount -t tmpfs {RUNTIME_DIR}: {}", stderr(&out));
        dirs
    }
}

impl Drop for HostDirs {
    fn drop(&mut self) {
        // Not mounted (a failed mount) is fine: umount then fails and the directory goes.
        let _ = Command::new("umount").arg(RUNTIME_DIR).output();
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
