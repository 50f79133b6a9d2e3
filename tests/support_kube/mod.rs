//! A test's cluster: the in-process fake Kubernetes API server, a kubeconfig for it, and a
//! tenantd config with `runtime = "kubernetes"` and a unique instance. The real binary talks to
//! the fake over loopback through the real kube client. No real cluster is involved: what these
//! tests prove is what tenantd asks of the API server and what it makes of the answers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_kube::FakeKube;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct Cluster {
    pub fake: FakeKube,
    pub dir: tempfile::TempDir,
    pub instance: String,
    pub config: PathBuf,
    pub tenants: PathBuf,
    pub state: PathBuf,
}

impl Cluster {
    /// A fake cluster and a config reading specs from `tenants` (default: an empty directory of
    /// the test's own).
    pub async fn start(tenants: Option<&Path>) -> Cluster {
        let fake = FakeKube::start().await;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let instance = format!("k{}x{n}", std::process::id());
        let dir = tempfile::tempdir().expect("temp dir");
        let own = dir.path().join("tenants.d");
        std::fs::create_dir_all(&own).unwrap();
        let tenants = tenants.map(Path::to_path_buf).unwrap_or(own);
        fake.write_kubeconfig(&dir.path().join("kubeconfig"));
        let cluster = Cluster {
            fake,
            config: dir.path().join("tenantd.toml"),
            state: dir.path().join("state"),
            tenants,
            instance,
            dir,
        };
        cluster.write_config("");
        cluster
    }

    /// Rewrites the config with `extra` TOML appended (after the `[kubernetes]` table).
    pub fn write_config(&self, extra: &str) {
        let text = format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {:?}\nruntime = \"kubernetes\"\n\
             [kubernetes]\nkubeconfig = \"kubeconfig\"\n{extra}",
            self.tenants, self.state, self.instance
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Writes a spec file atomically.
    pub fn spec(&self, file: &str, yaml: &str) {
        let tmp = self.dir.path().join(format!(".{file}.tmp"));
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, self.tenants.join(file)).unwrap();
    }

    /// Runs the real binary with this config, without blocking the fake's own tasks.
    pub fn tenantd(&self, args: &[&str]) -> Output {
        self.tenantd_with_env(args, &[])
    }

    pub fn tenantd_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        tokio::task::block_in_place(|| cmd.output().expect("tenantd runs"))
    }

    /// The command, not yet run (for the daemon).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantd"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("CONTAINER_RUNTIME")
            .env_remove("TENANTD_CONFIG")
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST");
        cmd
    }

    pub fn namespace(&self, tenant: &str) -> String {
        format!("{}-{tenant}", self.instance)
    }

    /// One of a tenant's objects as the fake holds it.
    pub fn object(&self, resource: &str, tenant: &str, name: &str) -> Option<Value> {
        let ns = self.namespace(tenant);
        if resource == "namespaces" {
            return self.fake.get(resource, None, &ns);
        }
        self.fake.get(resource, Some(&ns), name)
    }

    pub fn status(&self, tenant: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.state.join("status").join(format!("{tenant}.json"))).ok()?;
        Some(serde_json::from_str(&text).expect("status file is JSON"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Every (API group, resource, verb) the roles in `examples/kubernetes/rbac.yaml` grant.
pub fn example_rbac_grants() -> std::collections::BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/rbac.yaml"))
        .expect("examples/kubernetes/rbac.yaml");
    let mut granted = std::collections::BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = <Value as serde::Deserialize>::deserialize(doc).unwrap();
        for rule in doc["rules"].as_array().into_iter().flatten() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        let text = |x: &Value| x.as_str().unwrap().to_string();
                        granted.insert((text(g), text(r), text(v)));
                    }
                }
            }
        }
    }
    granted
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the command exited with `code`, showing its output otherwise.
pub fn expect_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}:\n--- stdout\n{}\n--- stderr\n{}", stdout(o), stderr(o));
}

/// A tenant of a registry image (the fake's kubelet "pulls" anything), with a volume.
pub fn registry_spec(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {name} }}
spec:
  image: registry.example/openclaw:2026.11
  env: {{ LOG_LEVEL: info }}
  resources: {{ memory: 64Mi, cpus: 0.25, pids: 64 }}
  health: {{ interval: 2s, timeout: 1s, retries: 3, startPeriod: 2s }}
  volumes: [ {{ name: workspace, mountPath: /home/node/.openclaw/workspaces }} ]
{extra_spec}"
    )
}

/// The names of the managers in an object's `managedFields`.
pub fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["manager"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Polls `f` (without blocking the fake's tasks) until it gives a value or `within` passes.
pub async fn eventually<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `tenantd run` child, killed when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
