//! The docker-compose side: one service equivalent to the tenantd spec (same image, env,
//! limits, hardening, healthcheck, named volume, port published on 127.0.0.1), converged by
//! `docker-compose up -d` under a project of its own. An env change makes `up -d` recreate the
//! container: the old one stops, then the new one starts. No daemon, no health gate, no repair.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::command;
use crate::engine::{self, STUB_PORT};
use crate::side::{clip, exit_code, remove_container, status_word, wait_serving, Action, Desired, Scenario, Side};

const SERVICE: &str = "web";
const COMPOSE_WITHIN: Duration = Duration::from_secs(180);

pub struct ComposeSide {
    dir: tempfile::TempDir,
    project: String,
    run_id: String,
    image: String,
    port: u16,
    good: Desired,
    id_before: Option<String>,
}

impl ComposeSide {
    pub fn new(project: &str, run_id: &str, image: &str, port: u16) -> ComposeSide {
        let dir = tempfile::Builder::new().prefix("tenantd-bench-replace").tempdir().expect("temp dir");
        ComposeSide {
            dir,
            project: project.to_string(),
            run_id: run_id.to_string(),
            image: image.to_string(),
            port,
            good: Desired::first(),
            id_before: None,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.yml")
    }

    /// The compose file of `d`: format 2.4, which takes limits directly.
    fn write_file(&self, d: &Desired) {
        let f = format!(
            "version: \"2.4\"
services:
  {SERVICE}:
    image: {image}
    init: true
    read_only: true
    privileged: false
    cap_drop: [ALL]
    security_opt: [no-new-privileges]
    ipc: private
    user: \"10001:10001\"
    environment: {env}
    mem_limit: 64m
    memswap_limit: 64m
    cpus: 0.25
    pids_limit: 64
    ulimits: {{ nofile: {{ soft: 4096, hard: 4096 }}, nproc: {{ soft: 16384, hard: 16384 }} }}
    sysctls: {{ net.ipv6.conf.all.disable_ipv6: 1, net.ipv6.conf.default.disable_ipv6: 1 }}
    tmpfs: [\"/tmp:rw,noexec,nosuid,nodev,size=64m\"]
    ports: [\"127.0.0.1:{port}:{STUB_PORT}\"]
    volumes: [\"data:/data\"]
    healthcheck:
      test: [CMD, /stub-runtime, probe, \"http://127.0.0.1:{STUB_PORT}/health\"]
      interval: 2s
      timeout: 1s
      retries: 3
      start_period: 2s
    stop_grace_period: 10s
    restart: on-failure:5
    logging: {{ driver: json-file, options: {{ max-size: 10m, max-file: \"3\" }} }}
    labels: {{ io.tenantd.bench: {run_id} }}
volumes:
  data:
    labels: {{ io.tenantd.bench: {run_id} }}
networks:
  default:
    labels: {{ io.tenantd.bench: {run_id} }}
",
            image = self.image,
            env = d.env_yaml(),
            port = self.port,
            run_id = self.run_id,
        );
        std::fs::write(self.file(), f).expect("compose file written");
    }

    /// Runs `docker-compose <args>` on the project; its exit code and output.
    fn compose(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut cmd = Command::new("docker-compose");
        cmd.arg("--project-name").arg(&self.project).arg("--file").arg(self.file()).args(args);
        let out = command::run(cmd, COMPOSE_WITHIN);
        (out.status.code(), command::text(&out))
    }

    fn up_ok(&self, what: &str) {
        let (code, out) = self.compose(&["up", "-d"]);
        assert!(code == Some(0), "docker-compose up -d {what} failed:\n{out}");
        assert!(wait_serving(self.port, Duration::from_secs(60)), "docker-compose: not serving on {}", self.port);
    }

    /// The service's one container, as docker-compose 1.x names it.
    fn container(&self) -> String {
        format!("{}_{SERVICE}_1", self.project)
    }

    fn container_id(&self) -> Option<String> {
        engine::inspect(&self.container()).map(|c| c.id)
    }
}

impl Side for ComposeSide {
    fn label(&self) -> &'static str {
        "docker-compose"
    }

    fn up(&mut self) {
        self.write_file(&self.good.clone());
        self.up_ok("of the first file");
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn not_applicable(&self, sc: Scenario) -> Option<&'static str> {
        (sc == Scenario::DaemonRestart).then_some("n/a: docker-compose has no daemon")
    }

    fn before(&mut self, sc: Scenario, round: usize) {
        self.id_before = self.container_id();
        match sc {
            Scenario::EnvChange => {
                self.good = Desired { greeting: format!("changed-{}", round + 1), degraded: false };
                self.write_file(&self.good.clone());
            }
            Scenario::FailedReplacement => {
                let bad = Desired { greeting: format!("degraded-{}", round + 1), degraded: true };
                self.write_file(&bad);
            }
            Scenario::DaemonRestart | Scenario::RemoveRuntime => {}
        }
    }

    fn act(&mut self, sc: Scenario) -> Action {
        let t0 = Instant::now();
        match sc {
            Scenario::EnvChange | Scenario::FailedReplacement => {
                let (code, out) = self.compose(&["up", "-d"]);
                let took = t0.elapsed();
                let line = out.lines().find(|l| l.contains("Recreating") || l.contains("error")).unwrap_or("").trim();
                Action { took, note: format!("`docker-compose up -d` exit {}: {}", exit_code(code), clip(line, 120)) }
            }
            Scenario::DaemonRestart => unreachable!("not applicable"),
            Scenario::RemoveRuntime => remove_container(&self.container()),
        }
    }

    fn after(&mut self, sc: Scenario) -> String {
        let id = self.container_id();
        let same = id.is_some() && id == self.id_before;
        let health = status_word(engine::http_get(self.port, "/health"));
        match sc {
            Scenario::EnvChange => {
                format!("{}; /health {health}", if same { "same container" } else { "new container" })
            }
            Scenario::FailedReplacement => {
                let what = format!(
                    "{}; /health {health}{}",
                    if same { "the old container serves (same id)" } else { "switched to the new container" },
                    if health == "HTTP 503" { " (serves the degraded version, no health gate)" } else { "" }
                );
                // Undo the bad edit, as its user would: the old env and `up -d` again.
                self.write_file(&self.good.clone());
                self.up_ok("after the degraded version");
                what
            }
            Scenario::DaemonRestart => unreachable!("not applicable"),
            Scenario::RemoveRuntime => {
                let what = if id.is_none() {
                    format!("not repaired (no container); /health {health}")
                } else {
                    format!("a container runs again; /health {health}")
                };
                self.up_ok("after the container was removed");
                what
            }
        }
    }
}
