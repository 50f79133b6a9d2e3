//! The tenantd side: one spec file in a temp dir, converged by `tenantd apply`, and for the
//! daemon scenarios by `tenantd run`. Start first (the default: the tenant's ingress owns the
//! endpoint) or stop first (`rollout: { strategy: stopFirst }`: the runtime publishes it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::command::{self, Daemon};
use crate::engine;
use crate::side::{clip, exit_code, remove_container, status_word, wait_serving, Action, Desired, Scenario, Side};

const TENANT: &str = "web";
/// The longest `tenantd apply` may take (a rollback waits for the probes to fail).
const APPLY_WITHIN: Duration = Duration::from_secs(180);
/// The longest the daemon may take to start, or to exit after SIGTERM.
const DAEMON_WITHIN: Duration = Duration::from_secs(30);
/// How long the daemon has to repair a removed runtime before `after` gives up on it and
/// runs `tenantd apply` itself.
const REPAIR_WITHIN: Duration = Duration::from_secs(60);

pub struct TenantdSide {
    dir: tempfile::TempDir,
    bin: PathBuf,
    instance: String,
    image: String,
    stop_first: bool,
    /// The desired state the tenant converged to last.
    good: Desired,
    port: Option<u16>,
    daemon: Option<Daemon>,
    daemons: usize,
    /// The runtime container's id before the scenario.
    id_before: Option<String>,
}

impl TenantdSide {
    pub fn new(bin: &Path, instance: &str, image: &str, ports: (u16, u16), stop_first: bool) -> TenantdSide {
        let dir = tempfile::Builder::new().prefix("tenantd-bench-replace").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("tenants.d")).expect("tenants.d");
        let config = format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {instance:?}\nport_range = [{}, {}]\n",
            dir.path().join("tenants.d"),
            dir.path().join("state"),
            ports.0,
            ports.1,
        );
        std::fs::write(dir.path().join("tenantd.toml"), config).expect("config written");
        TenantdSide {
            dir,
            bin: bin.to_path_buf(),
            instance: instance.to_string(),
            image: image.to_string(),
            stop_first,
            good: Desired::first(),
            port: None,
            daemon: None,
            daemons: 0,
            id_before: None,
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("tenantd.toml")
    }

    /// Writes the spec of `d` atomically (temp file, then rename), as an editor or git would.
    fn write_spec(&self, d: &Desired) {
        let rollout = if self.stop_first { "  rollout: { strategy: stopFirst }\n" } else { "" };
        let yaml = format!(
            "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {TENANT} }}
spec:
  image: {image}
  pullPolicy: Never
  env: {env}
  resources: {{ memory: 64Mi, cpus: 0.25, pids: 64 }}
  health: {{ interval: 2s, timeout: 1s, retries: 3, startPeriod: 2s, probeCommand: [/stub-runtime, probe] }}
  volumes: [ {{ name: data, mountPath: /data }} ]
{rollout}",
            image = self.image,
            env = d.env_yaml(),
        );
        let tmp = self.dir.path().join(format!(".{TENANT}.yaml.tmp"));
        std::fs::write(&tmp, yaml).expect("spec written");
        std::fs::rename(&tmp, self.dir.path().join("tenants.d").join(format!("{TENANT}.yaml"))).expect("spec renamed");
    }

    /// Runs `tenantd apply`; its exit code and output.
    fn apply(&self) -> (Option<i32>, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--config")
            .arg(self.config())
            .arg("apply")
            .env_remove("CONTAINER_RUNTIME")
            .env_remove("TENANTD_CONFIG")
            .env("NO_COLOR", "1");
        let out = command::run(cmd, APPLY_WITHIN);
        (out.status.code(), command::text(&out))
    }

    fn apply_ok(&self, what: &str) {
        let (code, out) = self.apply();
        assert!(code == Some(0), "{}: tenantd apply {what} failed:\n{out}", self.label());
    }

    fn status(&self) -> Option<Value> {
        let path = self.dir.path().join("state").join("status").join(format!("{TENANT}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// The name of the runtime container (the ingress is `<name>_ingress`).
    fn container(&self) -> String {
        format!("{}_{TENANT}", self.instance)
    }

    fn container_id(&self) -> Option<String> {
        engine::inspect(&self.container()).map(|c| c.id)
    }

    fn start_daemon(&mut self) {
        let log = self.dir.path().join(format!("daemon-{}.log", self.daemons));
        self.daemons += 1;
        let mut daemon = Daemon::spawn(&self.bin, &self.config(), log);
        daemon.wait_running(DAEMON_WITHIN);
        std::thread::sleep(Duration::from_secs(1));
        self.daemon = Some(daemon);
    }

    fn stop_daemon(&mut self) -> Option<String> {
        let mut daemon = self.daemon.take()?;
        let status = daemon.terminate(DAEMON_WITHIN);
        Some(match status.code() {
            Some(code) => format!("exited with {code}"),
            None => format!("ended: {status}"),
        })
    }

    /// The tenant's phase, as its status file says.
    fn phase(&self) -> String {
        let status = self.status();
        status.as_ref().and_then(|s| s["phase"].as_str()).unwrap_or("unknown (no status file)").to_string()
    }
}

impl Side for TenantdSide {
    fn label(&self) -> &'static str {
        if self.stop_first {
            "tenantd stop-first"
        } else {
            "tenantd start-first"
        }
    }

    fn up(&mut self) {
        self.write_spec(&self.good.clone());
        self.apply_ok("of the first spec");
        let port = self.status().and_then(|s| s["hostPort"].as_u64()).expect("hostPort in the status file");
        let port = u16::try_from(port).expect("a port");
        assert!(wait_serving(port, Duration::from_secs(60)), "{}: not serving on {port}", self.label());
        self.port = Some(port);
    }

    fn port(&self) -> u16 {
        self.port.expect("the side is up")
    }

    fn not_applicable(&self, _: Scenario) -> Option<&'static str> {
        None
    }

    fn before(&mut self, sc: Scenario, round: usize) {
        self.id_before = self.container_id();
        match sc {
            Scenario::EnvChange => {
                self.good = Desired { greeting: format!("changed-{}", round + 1), degraded: false };
                self.write_spec(&self.good.clone());
            }
            Scenario::FailedReplacement => {
                let bad = Desired { greeting: format!("degraded-{}", round + 1), degraded: true };
                self.write_spec(&bad);
            }
            Scenario::DaemonRestart | Scenario::RemoveRuntime => self.start_daemon(),
        }
    }

    fn act(&mut self, sc: Scenario) -> Action {
        let t0 = Instant::now();
        match sc {
            Scenario::EnvChange | Scenario::FailedReplacement => {
                let (code, out) = self.apply();
                let took = t0.elapsed();
                let line = out.lines().find(|l| l.contains(&format!("{TENANT}:"))).unwrap_or("").trim();
                Action { took, note: format!("`tenantd apply` exit {}: {}", exit_code(code), clip(line, 200)) }
            }
            Scenario::DaemonRestart => {
                let stopped = self.stop_daemon().expect("the daemon runs");
                let exited = t0.elapsed();
                self.start_daemon();
                Action {
                    took: t0.elapsed(),
                    note: format!(
                        "SIGTERM: {stopped} after {:.2} s; running again (+1 s) after {:.2} s",
                        exited.as_secs_f64(),
                        t0.elapsed().as_secs_f64()
                    ),
                }
            }
            Scenario::RemoveRuntime => remove_container(&self.container()),
        }
    }

    fn after(&mut self, sc: Scenario) -> String {
        let id = self.container_id();
        let same = id.is_some() && id == self.id_before;
        match sc {
            Scenario::EnvChange => {
                format!("{}; phase {}", if same { "same container" } else { "new container" }, self.phase())
            }
            Scenario::FailedReplacement => {
                let what = format!(
                    "{}; phase {}; /health {}",
                    if same { "the old container serves (same id)" } else { "container replaced" },
                    self.phase(),
                    status_word(engine::http_get(self.port(), "/health"))
                );
                // Undo the bad edit: the spec of the runtime that serves again.
                self.write_spec(&self.good.clone());
                self.apply_ok("after the rollback");
                what
            }
            Scenario::DaemonRestart => {
                let what =
                    format!("{}; phase {}", if same { "same container" } else { "container replaced" }, self.phase());
                self.stop_daemon();
                what
            }
            Scenario::RemoveRuntime => {
                let repaired = wait_serving(self.port(), REPAIR_WITHIN) && self.container_id().is_some();
                let what = if repaired {
                    format!("repaired by the daemon (new container); phase {}", self.phase())
                } else {
                    format!("NOT repaired within {} s; phase {}", REPAIR_WITHIN.as_secs(), self.phase())
                };
                self.stop_daemon();
                if !repaired {
                    self.apply_ok("after a repair that did not come");
                }
                what
            }
        }
    }
}
