//! A private Podman engine for tests: `podman system service` on a socket in a temp dir, with
//! its own `--root` and `--runroot`, so it sees no other Podman objects and leaves none behind.

// Every test binary includes the support module, and only the Podman tests start one.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{eventually, stderr, stdout};

/// How long the service may take to answer on its socket.
const STARTUP: Duration = Duration::from_secs(30);

/// True when the `podman` CLI runs. When it does not: panics if `TENANTD_REQUIRE_PODMAN=1`,
/// else prints a visible SKIPPED line and returns false.
pub fn podman_available(test: &str) -> bool {
    let ok = Command::new("podman").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        if std::env::var("TENANTD_REQUIRE_PODMAN").as_deref() == Ok("1") {
            panic!("{test}: podman is not installed and TENANTD_REQUIRE_PODMAN=1");
        }
        eprintln!("SKIPPED {test}: podman is not installed (set TENANTD_REQUIRE_PODMAN=1 to make this a failure)");
    }
    ok
}

/// A running `podman system service` of this test's own, stopped (and everything it holds
/// removed) on drop.
pub struct PodmanService {
    dir: tempfile::TempDir,
    child: Child,
    /// Instances whose networks are removed on drop: Podman keeps network definitions in the
    /// host-wide configuration, not under `--root`.
    instances: Vec<String>,
}

impl PodmanService {
    /// Starts the service and waits until its socket answers; `None` (skipped) when podman is
    /// absent and not required.
    pub fn start(test: &str) -> Option<PodmanService> {
        if !podman_available(test) {
            return None;
        }
        let dir = tempfile::Builder::new().prefix("tenantd-podman").tempdir().expect("temp dir");
        let socket = dir.path().join("podman.sock");
        let log = std::fs::File::create(dir.path().join("service.log")).expect("service log");
        let child = Command::new("podman")
            .args(storage_args(dir.path()))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("podman system service starts");
        let service = PodmanService { dir, child, instances: vec![] };
        eventually("the podman service to answer", STARTUP, || std::os::unix::net::UnixStream::connect(&socket).ok());
        Some(service)
    }

    /// `unix://…` of the service's socket, as `docker.host` takes it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    /// The podman CLI on this service's storage.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new("podman").args(storage_args(self.dir.path())).args(args).output().expect("podman CLI runs")
    }

    /// Like [`PodmanService::cli`], asserting success; its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(o.status.success(), "podman {args:?} failed: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    }

    /// Copies an image from the local Docker engine into this service's storage (no registry
    /// is reachable). Podman names it `localhost/<reference>`; the short name resolves to it.
    pub fn load_from_docker(&self, reference: &str) {
        let archive = self.dir.path().join("image.tar");
        let archive_arg = archive.display().to_string();
        let o = super::docker(&["save", reference, "-o", &archive_arg]);
        assert!(o.status.success(), "docker save {reference}: {}", stderr(&o));
        self.cli_ok(&["load", "-i", &archive_arg]);
        std::fs::remove_file(&archive).expect("remove the image archive");
    }

    /// Removes the networks of `instance` when the service goes.
    pub fn owns_instance(&mut self, instance: &str) {
        self.instances.push(instance.to_string());
    }

    /// `podman inspect` of an object by name or id, or None when it does not exist.
    pub fn inspect(&self, name: &str) -> Option<Value> {
        let o = self.cli(&["inspect", name]);
        if !o.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        v.get(0).cloned()
    }

    /// The id of the container named `name`, or None.
    pub fn container_id(&self, name: &str) -> Option<String> {
        let o = self.cli(&["container", "inspect", "--format", "{{.Id}}", name]);
        o.status.success().then(|| stdout(&o).trim().to_string())
    }

    /// Names of the objects of `kind` (`network`, `volume`) labelled with `instance`.
    pub fn labelled(&self, kind: &str, instance: &str) -> Vec<String> {
        let filter = format!("label=io.tenantd.instance={instance}");
        self.cli_ok(&[kind, "ls", "--filter", &filter, "--format", "{{.Name}}"]).lines().map(str::to_string).collect()
    }

    /// The engine's version, as `podman version` reports the server's.
    pub fn version(&self) -> String {
        self.cli_ok(&["version", "--format", "{{.Server.Version}}"]).trim().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        // Containers and volumes live under this service's own --root: all of them are this
        // test's. Networks are host-wide, so only the test instances' are removed.
        self.cli(&["rm", "--force", "--all", "--time", "0"]);
        for instance in self.instances.clone() {
            for network in self.labelled("network", &instance) {
                self.cli(&["network", "rm", "--force", &network]);
            }
        }
        self.cli(&["volume", "prune", "--force"]);
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The overlay driver bind-mounts its own directory (and containers left mounts inside
        // it); unmount what is under this temp dir, deepest first, so the dir can be removed.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&*self.dir.path().to_string_lossy()))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in ours {
            Command::new("umount").arg(mount).output().ok();
        }
        if std::thread::panicking() {
            eprintln!("--- podman service log ---\n{}--- end of log ---", self.log());
        }
    }
}

fn storage_args(dir: &std::path::Path) -> [String; 4] {
    ["--root".into(), dir.join("root").display().to_string(), "--runroot".into(), dir.join("run").display().to_string()]
}
