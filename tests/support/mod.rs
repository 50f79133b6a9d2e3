//! Test harness for integration tests: a temp tenants/state directory, a unique instance name,
//! the real `tenantd` binary, and the real Docker engine (inspected through the docker CLI, not
//! through tenantd's own adapter). Everything a test creates is removed when its `Env` drops.
#![allow(dead_code)]

pub mod booted;
pub mod daemon;
pub mod engine_proxy;
pub mod load;
pub mod machine;
pub mod packages;
pub mod podman;
pub mod secrets;
pub mod service;
pub mod stub;
pub mod user_machine;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when a Docker engine answers. When it does not: panics if `TENANTD_REQUIRE_DOCKER=1`,
/// else prints a visible SKIPPED line and returns false.
pub fn docker_available(test: &str) -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("TENANTD_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("{test}: Docker does not answer and TENANTD_REQUIRE_DOCKER=1");
        }
        eprintln!("SKIPPED {test}: no Docker engine answers (set TENANTD_REQUIRE_DOCKER=1 to make this a failure)");
    }
    ok
}

/// Runs the docker CLI.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker CLI runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn eventually<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain HTTP GET on 127.0.0.1; the status code, or None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<u16> {
    http_body(port, path).map(|(code, _)| code)
}

/// A plain HTTP GET on 127.0.0.1: the status code and body, or None when nothing answers.
pub fn http_body(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((code, body))
}

/// One number of a daemon's Prometheus metrics on 127.0.0.1:`port`: the value of the first line
/// starting with `line_start`, or None when nothing answers or no line does.
pub fn metric(port: u16, line_start: &str) -> Option<f64> {
    let (code, body) = http_body(port, "/metrics")?;
    (code == 200).then_some(())?;
    body.lines().find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

/// A test's world: config, tenants dir and state dir in a temp dir, and a unique instance.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub instance: String,
    pub config: PathBuf,
    pub tenants: PathBuf,
    pub state: PathBuf,
    pub ports: (u16, u16),
}

impl Env {
    /// A fresh environment; `None` (test skipped) when Docker is absent and not required.
    pub fn new(test: &str) -> Option<Env> {
        if !docker_available(test) {
            return None;
        }
        Some(Self::without_docker())
    }

    /// An environment for tests that do not need an engine.
    pub fn without_docker() -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let instance = format!("t{}x{n}", std::process::id());
        let dir = tempfile::tempdir().expect("temp dir");
        let tenants = dir.path().join("tenants.d");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&tenants).unwrap();
        // Each environment of this process gets its own slice of ports, so parallel tests never race for one.
        let lo = 20000 + ((std::process::id() % 40) as u16) * 250 + (n as u16 % 12) * 20;
        let ports = (lo, lo + 19);
        let config = dir.path().join("tenantd.toml");
        let env = Env { dir, instance, config, tenants, state, ports };
        env.write_config("");
        env
    }

    /// Rewrites the config with `extra` TOML appended.
    pub fn write_config(&self, extra: &str) {
        let text = format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {:?}\nport_range = [{}, {}]\n{extra}",
            self.tenants, self.state, self.instance, self.ports.0, self.ports.1
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Writes a spec file atomically (temp file + rename, as git and Ansible do).
    pub fn spec(&self, file: &str, yaml: &str) -> &Self {
        let tmp = self.dir.path().join(format!(".{file}.tmp"));
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, self.tenants.join(file)).unwrap();
        self
    }

    pub fn remove_spec(&self, file: &str) {
        std::fs::remove_file(self.tenants.join(file)).unwrap();
    }

    /// Runs the real binary with this environment's config.
    pub fn tenantd(&self, args: &[&str]) -> Output {
        self.tenantd_with_env(args, &[])
    }

    pub fn tenantd_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantd"));
        cmd.arg("--config").arg(&self.config).args(args).env_remove("CONTAINER_RUNTIME").env_remove("TENANTD_CONFIG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("tenantd runs")
    }

    /// `tenantd apply`, asserting it exits 0.
    pub fn apply_ok(&self) -> String {
        let o = self.tenantd(&["apply"]);
        assert!(o.status.success(), "apply failed: {}\n{}", stdout(&o), stderr(&o));
        stdout(&o)
    }

    pub fn status(&self, tenant: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.state.join("status").join(format!("{tenant}.json"))).ok()?;
        Some(serde_json::from_str(&text).expect("status file is JSON"))
    }

    pub fn status_path(&self, tenant: &str) -> PathBuf {
        self.state.join("status").join(format!("{tenant}.json"))
    }

    /// The engine name of a tenant's main container (or of a part: a sidecar).
    pub fn container(&self, tenant: &str) -> String {
        format!("{}_{tenant}", self.instance)
    }

    pub fn network(&self, tenant: &str) -> String {
        format!("{}_{tenant}", self.instance)
    }

    pub fn volume(&self, tenant: &str, volume: &str) -> String {
        format!("{}_{tenant}_vol-{volume}", self.instance)
    }

    /// `docker inspect` of any object by name, or None when it does not exist.
    pub fn inspect(&self, name: &str) -> Option<Value> {
        let o = docker(&["inspect", name]);
        if !o.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        v.get(0).cloned()
    }

    pub fn container_id(&self, tenant: &str) -> Option<String> {
        self.inspect(&self.container(tenant)).and_then(|v| v["Id"].as_str().map(str::to_string))
    }

    /// The host port of a tenant's runtime from its status file.
    pub fn host_port(&self, tenant: &str) -> u16 {
        let s = self.status(tenant).expect("status file");
        s["hostPort"].as_u64().expect("hostPort in status") as u16
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        cleanup_instance(&self.instance);
        remove_host_rules(&self.instance);
    }
}

/// The nftables table tenantd keeps for `instance` (it never removes it itself).
pub fn host_rules_table(instance: &str) -> String {
    format!("tenantd_{instance}")
}

/// Deletes the instance's nftables table, if there is one (and `nft` runs).
pub fn remove_host_rules(instance: &str) {
    let table = host_rules_table(instance);
    let listed = Command::new("nft").args(["list", "table", "inet", &table]).output();
    if listed.is_ok_and(|o| o.status.success()) {
        let deleted = Command::new("nft").args(["delete", "table", "inet", &table]).output();
        if let Some(o) = deleted.ok().filter(|o| !o.status.success()) {
            eprintln!("cleanup: nft delete table inet {table}: {}", stderr(&o).trim());
        }
    }
}

/// Removes every container, network and volume labelled with `instance`.
pub fn cleanup_instance(instance: &str) {
    let filter = format!("label=io.tenantd.instance={instance}");
    let ids = stdout(&docker(&["ps", "-aq", "--filter", &filter]));
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids);
        docker(&args);
    }
    for (kind, list) in [("network", &["network", "ls", "-q"][..]), ("volume", &["volume", "ls", "-q"][..])] {
        let mut a: Vec<&str> = list.to_vec();
        a.extend(["--filter", &filter]);
        let out = stdout(&docker(&a));
        for id in out.split_whitespace() {
            docker(&[kind, "rm", id]);
        }
    }
}

/// A spec of the stub runtime for tests: the prebuilt test image, quick health settings.
pub fn stub_spec(name: &str, extra_spec: &str) -> String {
    let image = stub::stub_image();
    format!(
        "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {name} }}
spec:
  image: {image}
  pullPolicy: Never
  env: {{ GREETING: hello }}
  resources: {{ memory: 64Mi, cpus: 0.25, pids: 64 }}
  health: {{ interval: 2s, timeout: 1s, retries: 3, startPeriod: 2s, probeCommand: [/stub-runtime, probe] }}
  volumes: [ {{ name: data, mountPath: /data }} ]
{extra_spec}"
    )
}

/// The YAML files under `dir` (not in build output), sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if !p.ends_with("target") && !p.ends_with("dist") {
                out.extend(yaml_files(&p));
            }
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
