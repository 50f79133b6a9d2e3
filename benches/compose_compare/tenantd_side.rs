//! The tenantd side: one spec file per tenant in a temp dir, converged by `tenantd apply` (which
//! waits for each replaced or created runtime to answer its probe), or by `tenantd apply
//! --no-wait` for the row that is comparable with `docker-compose up -d`.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::scenario::{self, Scenario};
use crate::side::{Phase, Side, Step};
use crate::subnets;

/// tenantd's own pool, its default, written down so that its networks stay the size of the
/// compose file's and the floor's.
const TENANTD_POOL: &str = "10.213.0.0/16";

pub struct TenantdSide {
    dir: tempfile::TempDir,
    bin: PathBuf,
    instance: String,
    no_wait: bool,
}

impl TenantdSide {
    pub fn new(bin: &Path, instance: &str, ports: RangeInclusive<u16>, concurrency: usize, no_wait: bool) -> Self {
        let dir = tempfile::Builder::new().prefix("tenantd-bench-compose").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("tenants.d")).expect("tenants.d");
        let config = format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {instance:?}\nport_range = [{}, {}]\nconcurrency = {concurrency}\n\n\
             [docker]\nnetwork_pool = \"{TENANTD_POOL}\"\nnetwork_prefix = {}\n",
            dir.path().join("tenants.d"),
            dir.path().join("state"),
            ports.start(),
            ports.end(),
            subnets::PREFIX,
        );
        std::fs::write(dir.path().join("tenantd.toml"), config).expect("config written");
        TenantdSide { dir, bin: bin.to_path_buf(), instance: instance.to_string(), no_wait }
    }

    fn spec_path(&self, tenant: &str) -> PathBuf {
        self.dir.path().join("tenants.d").join(format!("{tenant}.yaml"))
    }

    fn write_spec(&self, s: &Scenario, t: &scenario::Tenant) {
        std::fs::write(self.spec_path(&t.name), scenario::spec_yaml(s, t)).expect("spec written");
    }

    /// Runs `tenantd apply` with `args` and asserts that every tenant converged.
    fn apply(&self, args: &[&str]) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--config").arg(self.dir.path().join("tenantd.toml")).arg("apply").args(args);
        if self.no_wait {
            cmd.arg("--no-wait");
        }
        let out = cmd
            .env_remove("CONTAINER_RUNTIME")
            .env_remove("TENANTD_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("tenantd runs");
        assert!(
            out.status.success(),
            "tenantd apply {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Side for TenantdSide {
    fn label(&self) -> &'static str {
        if self.no_wait {
            "tenantd apply --no-wait"
        } else {
            "tenantd apply"
        }
    }

    fn command(&self, phase: Phase) -> String {
        let teardown = if phase == Phase::Teardown { " --allow-empty" } else { "" };
        let no_wait = if self.no_wait { " --no-wait" } else { "" };
        format!("tenantd apply{teardown}{no_wait}")
    }

    fn container_name(&self, tenant: &str) -> String {
        format!("{}_{tenant}", self.instance)
    }

    fn labels(&self) -> Vec<String> {
        vec![format!("io.tenantd.instance={}", self.instance)]
    }

    fn prepare(&mut self, s: &Scenario, step: Step) {
        match step {
            Step::Cold => s.tenants.iter().for_each(|t| self.write_spec(s, t)),
            Step::NoOp => {}
            Step::Edit(i, _) => self.write_spec(s, &s.tenants[i]),
            Step::Teardown => {
                for t in &s.tenants {
                    std::fs::remove_file(self.spec_path(&t.name)).expect("spec removed");
                }
            }
        }
    }

    fn run(&mut self, step: Step) -> bool {
        match step {
            Step::Teardown => self.apply(&["--allow-empty"]),
            Step::Cold | Step::NoOp | Step::Edit(..) => self.apply(&[]),
        }
        true
    }
}
