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
//! The machine is booted by support/booted.rs from an image of its own. Without mmdebstrap, root
//! or `/dev/net/tun` it is not booted: the test prints `SKIPPED`, or fails under
//! `TENANTD_REQUIRE_SYSTEMD=1`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::booted::{skip, Booted, Recipe, BOOT};
use super::{docker, eventually, stderr, stdout};

/// systemd with its user sessions (`dbus-user-session`, `libpam-systemd`; `systemd-container`
/// for `systemctl --user -M`), the package's dependencies `nftables` and `procps`, and Podman
/// with what it needs rootless (`uidmap` for the user namespace, `slirp4netns` for the network,
/// `fuse-overlayfs`, `catatonit` for the init process tenantd asks for).
const RECIPE: Recipe = Recipe {
    repository: "tenantd-test/systemd-podman",
    packages: &[
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
    ],
    version: 1,
};

/// The machine's one user, who runs tenantd.
pub const USER: &str = "alice";
pub const UID: u32 = 1000;
pub const HOME: &str = "/home/alice";

/// The user unit's journal entries: its processes' (`_SYSTEMD_USER_UNIT`) and the user
/// manager's about it (`USER_UNIT`). Not `--user-unit`, which as root also matches `_UID=0`.
const JOURNAL_MATCH: &str = "_SYSTEMD_USER_UNIT=tenantd.service + USER_UNIT=tenantd.service";

/// A booted machine whose user's service manager runs; it derefs to its [`Booted`] container.
/// Dropping it removes the container and, with it, everything the user's Podman made.
pub struct UserMachine {
    booted: Booted,
}

impl std::ops::Deref for UserMachine {
    type Target = Booted;
    fn deref(&self) -> &Booted {
        &self.booted
    }
}

impl UserMachine {
    /// Boots a machine for `test` and waits for its user's service manager, or returns None
    /// when it was skipped.
    pub fn boot(test: &str) -> Option<UserMachine> {
        if !Path::new("/dev/net/tun").exists() {
            skip(test, "there is no /dev/net/tun, which rootless Podman's network (slirp4netns) needs");
            return None;
        }
        let tag = RECIPE.preflight(test)?;
        let n = super::COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let extra = [
            // Rootless Podman mounts a fresh /proc for its containers, which the kernel allows
            // only where /proc is not partly masked: `crun: mount 'proc' to 'proc': Operation
            // not permitted` otherwise.
            "--security-opt",
            "systempaths=unconfined",
            // Podman's storage cannot be on the machine's own overlay root.
            "--tmpfs",
            "/home:exec,mode=755",
            "--device",
            "/dev/net/tun",
        ];
        let booted = Booted::boot(format!("tenantd-test-usr{}x{n}", std::process::id()), &tag, &extra);
        let machine = UserMachine { booted };
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
        self.write_as(Some(USER), path, contents, mode)
    }

    /// Copies a host file or directory to `to` in the machine, owned by the user.
    pub fn user_copy_in(&self, from: &Path, to: &str) {
        self.copy_in(from, to, &format!("{USER}:"))
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
    }
}
