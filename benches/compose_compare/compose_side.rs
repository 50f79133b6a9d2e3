//! The docker-compose side: the equivalent compose file of the desired state, converged by
//! `docker-compose up -d` and removed by `docker-compose down`, under a project of its own.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::scenario::{self, Placement, Scenario};
use crate::side::{Phase, Side, Step};
use crate::subnets;

pub struct ComposeSide {
    dir: tempfile::TempDir,
    project: String,
    run_id: String,
    ports: RangeInclusive<u16>,
    pool: Ipv4Addr,
    /// Ports and subnets of the current tenants, chosen anew at each cold start.
    placement: Option<Placement>,
}

impl ComposeSide {
    pub fn new(project: &str, run_id: &str, ports: RangeInclusive<u16>, pool: Ipv4Addr) -> Self {
        let dir = tempfile::Builder::new().prefix("tenantd-bench-compose").tempdir().expect("temp dir");
        ComposeSide { dir, project: project.to_string(), run_id: run_id.to_string(), ports, pool, placement: None }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.yml")
    }

    fn write_file(&self, s: &Scenario) {
        let placement = self.placement.as_ref().expect("placed at the cold start");
        std::fs::write(self.file(), scenario::compose_file(s, &self.run_id, placement)).expect("compose file written");
    }

    /// Runs `docker-compose <args>` on the project and asserts that it succeeded.
    fn compose(&self, args: &[&str]) {
        let out = Command::new("docker-compose")
            .arg("--project-name")
            .arg(&self.project)
            .arg("--file")
            .arg(self.file())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker-compose runs");
        assert!(
            out.status.success(),
            "docker-compose {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Side for ComposeSide {
    fn label(&self) -> &'static str {
        "docker-compose"
    }

    fn command(&self, phase: Phase) -> String {
        match phase {
            Phase::Teardown => "docker-compose down".into(),
            Phase::Cold | Phase::NoOp | Phase::Change | Phase::InPlace => "docker-compose up -d".into(),
        }
    }

    fn container_name(&self, tenant: &str) -> String {
        format!("{}_{tenant}_1", self.project)
    }

    fn labels(&self) -> Vec<String> {
        vec![format!("com.docker.compose.project={}", self.project)]
    }

    fn prepare(&mut self, s: &Scenario, step: Step) {
        match step {
            Step::Cold => {
                self.placement = Some(subnets::place(s.tenants.len(), self.ports.clone(), self.pool));
                self.write_file(s);
            }
            Step::NoOp | Step::Edit(..) => self.write_file(s),
            Step::Teardown => {}
        }
    }

    fn run(&mut self, step: Step) -> bool {
        match step {
            Step::Teardown => self.compose(&["down"]),
            Step::Cold | Step::NoOp | Step::Edit(..) => self.compose(&["up", "-d"]),
        }
        true
    }
}
