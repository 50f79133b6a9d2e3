//! A spec as a sample plus edits of the fields a plan reacts to. Values come from small pools
//! (valid ones and a few the loader must refuse), so most edited specs still load and the
//! fuzzer spends its time in plan and render rather than in the validator.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use arbitrary::Arbitrary;
use serde_json::{json, Map, Value};
use tenantd::spec::{parse_str, LoadedSpec, TenantName};

use crate::samples::{bases, loaded};

pub const NAMES: &[&str] =
    &["acme", "globex", "initech", "umbrella", "hooli", "a", "tenant-with-a-name-long-enough-to-overrun-a-namespace-x"];
const IMAGES: &[&str] = &[
    "registry.example/openclaw:2026.11",
    "registry.example/openclaw:2026.12",
    "busybox",
    "localhost:5000/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "",
];
const CONTEXTS: &[&str] = &["../stub-runtime", "ctx", "/srv/build/app"];
const PULL: &[&str] = &["IfNotPresent", "Always", "Never", "Sometimes"];
const MEMORY: &[&str] = &["8Mi", "32Mi", "64Mi", "512Mi", "1Gi", "4Gi", "7Mi", "1Ti", "1048576", "1.5Gi", "64M", "0"];
const CPUS: &[f64] = &[0.01, 0.1, 0.25, 0.5, 1.0, 1.5, 256.0, 0.0, 0.001, 300.0];
const PIDS: &[u32] = &[8, 32, 64, 256, 65536, 7, 65537];
const ENV_KEYS: &[&str] = &["LOG_LEVEL", "A", "OPENCLAW_CONFIG_PATH", "PATH", "_X", "1BAD", "DOCKER_HOST"];
const ENV_VALUES: &[&str] = &["info", "debug", "", "x=y", "/etc/openclaw/openclaw.json", "unix:///var/run/docker.sock"];
const USERS: &[&str] = &["10001:10001", "1000", "65534:65534", "0", "0:0", "root", "1:1", "1000:0"];
const PATHS: &[&str] = &[
    "/data",
    "/home/node/.openclaw/workspaces",
    "/tmp",
    "/etc/openclaw",
    "/run/secrets/openclaw",
    "/var/run/docker.sock",
    "/proc",
    "/",
    "data",
    "/data/../etc",
];
const VOLUMES: &[&str] = &["workspace", "data", "cache", "-bad"];
const SIDECARS: &[&str] = &["cache", "proxy", "runtime", "db"];
const SIZES: &[&str] = &["1Mi", "64Mi", "1Gi", "0"];
const LABEL_KEYS: &[&str] = &["plan", "team", "io.tenantd.instance", "Bad"];
const LABEL_VALUES: &[&str] = &["pro", "starter", "", "x"];
const HEALTH_PATHS: &[&str] = &["/health", "/", "/healthz?x=1", "health"];
const DURATIONS: &[&str] = &["1s", "5s", "30s", "2m", "0s", "1h"];
const RELOAD: &[&str] = &["signal", "restart", "recreate"];

fn pick<T: Copy>(pool: &[T], i: u8) -> T {
    pool[usize::from(i) % pool.len()]
}

/// One change to a spec.
#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    Image(u8),
    Build(u8),
    PullPolicy(u8),
    Port(u16),
    Memory(u8),
    Cpus(u8),
    Pids(u8),
    Env(u8, u8),
    ClearEnv,
    Args(Vec<u8>),
    User(u8),
    Egress(bool),
    Suspend(bool),
    Volume { name: u8, path: u8, read_only: bool },
    ClearVolumes,
    Tmpfs { path: u8, size: u8 },
    ClearTmpfs,
    Sidecar { name: u8, image: u8, memory: u8, volume: Option<(u8, u8)>, user: Option<u8> },
    RemoveSidecar(u8),
    Label(u8, u8),
    Reload(u8),
    DropRuntimeConfig,
    DropSecrets,
    HealthPath(u8),
    HealthInterval(u8),
}

impl Edit {
    fn apply(&self, spec: &mut Map<String, Value>, labels: &mut Map<String, Value>) {
        match *self {
            Edit::Image(i) => {
                spec.remove("build");
                spec.insert("image".into(), json!(pick(IMAGES, i)));
            }
            Edit::Build(i) => {
                spec.remove("image");
                spec.insert("build".into(), json!({ "context": pick(CONTEXTS, i) }));
            }
            Edit::PullPolicy(i) => set(spec, "pullPolicy", json!(pick(PULL, i))),
            Edit::Port(p) => set(spec, "port", json!(p)),
            Edit::Memory(i) => set(object(spec, "resources"), "memory", json!(pick(MEMORY, i))),
            Edit::Cpus(i) => set(object(spec, "resources"), "cpus", json!(pick(CPUS, i))),
            Edit::Pids(i) => set(object(spec, "resources"), "pids", json!(pick(PIDS, i))),
            Edit::Env(k, v) => set(object(spec, "env"), pick(ENV_KEYS, k), json!(pick(ENV_VALUES, v))),
            Edit::ClearEnv => drop(spec.remove("env")),
            Edit::Args(ref args) => {
                let args: Vec<String> = args.iter().take(4).map(|a| format!("--arg={a}")).collect();
                set(spec, "args", json!(args));
            }
            Edit::User(i) => set(spec, "user", json!(pick(USERS, i))),
            Edit::Egress(deny) => set(spec, "network", json!({ "egress": if deny { "deny" } else { "allow" } })),
            Edit::Suspend(s) => set(spec, "suspend", json!(s)),
            Edit::Volume { name, path, read_only } => array(spec, "volumes").push(json!({
                "name": pick(VOLUMES, name),
                "mountPath": pick(PATHS, path),
                "readOnly": read_only,
            })),
            Edit::ClearVolumes => drop(spec.remove("volumes")),
            Edit::Tmpfs { path, size } => {
                array(spec, "tmpfs").push(json!({ "mountPath": pick(PATHS, path), "size": pick(SIZES, size) }))
            }
            Edit::ClearTmpfs => drop(spec.remove("tmpfs")),
            Edit::Sidecar { name, image, memory, volume, user } => {
                let mut sc = json!({
                    "name": pick(SIDECARS, name),
                    "image": pick(IMAGES, image),
                    "resources": { "memory": pick(MEMORY, memory) },
                });
                if let Some((v, p)) = volume {
                    sc["volumes"] = json!([{ "name": pick(VOLUMES, v), "mountPath": pick(PATHS, p) }]);
                }
                if let Some(u) = user {
                    sc["user"] = json!(pick(USERS, u));
                }
                array(spec, "sidecars").push(sc);
            }
            Edit::RemoveSidecar(i) => {
                let sidecars = array(spec, "sidecars");
                if !sidecars.is_empty() {
                    let at = usize::from(i) % sidecars.len();
                    sidecars.remove(at);
                }
            }
            Edit::Label(k, v) => set(labels, pick(LABEL_KEYS, k), json!(pick(LABEL_VALUES, v))),
            Edit::Reload(i) => set(spec, "reload", json!(pick(RELOAD, i))),
            Edit::DropRuntimeConfig => drop(spec.remove("runtimeConfig")),
            Edit::DropSecrets => drop(spec.remove("secrets")),
            Edit::HealthPath(i) => set(object(spec, "health"), "path", json!(pick(HEALTH_PATHS, i))),
            Edit::HealthInterval(i) => set(object(spec, "health"), "interval", json!(pick(DURATIONS, i))),
        }
    }
}

fn set(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.insert(key.to_string(), value);
}

fn object<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let v = map.entry(key).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made an object")
}

fn array<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Vec<Value> {
    let v = map.entry(key).or_insert_with(|| json!([]));
    if !v.is_array() {
        *v = json!([]);
    }
    v.as_array_mut().expect("just made an array")
}

/// A tenant's spec: a sample, renamed, with edits.
#[derive(Arbitrary, Debug, Clone)]
pub struct SpecChoice {
    pub name: u8,
    pub base: u8,
    pub edits: Vec<Edit>,
}

impl SpecChoice {
    pub fn name(&self) -> TenantName {
        pick(NAMES, self.name).parse().expect("pool names are valid")
    }

    /// The spec as text (JSON, which is YAML).
    pub fn text(&self) -> String {
        let bases = bases();
        let mut v = bases[usize::from(self.base) % bases.len()].clone();
        v["metadata"]["name"] = json!(pick(NAMES, self.name));
        let mut labels = v["metadata"].get("labels").and_then(Value::as_object).cloned().unwrap_or_default();
        let spec = v["spec"].as_object_mut().expect("samples have a spec");
        for e in self.edits.iter().take(16) {
            e.apply(spec, &mut labels);
        }
        v["metadata"]["labels"] = Value::Object(labels);
        serde_json::to_string(&v).expect("JSON values serialize")
    }

    /// The spec when the loader accepts it, as loaded from `tenants.d/`. Remembered by text:
    /// inputs repeat specs, and `spec_load` fuzzes the loader itself.
    pub fn load(&self) -> Option<LoadedSpec> {
        thread_local! {
            static LOADED: RefCell<HashMap<String, Option<LoadedSpec>>> = RefCell::new(HashMap::new());
        }
        let text = self.text();
        LOADED.with_borrow_mut(|seen| {
            if seen.len() > 4096 {
                seen.clear();
            }
            seen.entry(text)
                .or_insert_with_key(|text| {
                    let path = PathBuf::from(format!("tenants.d/{}.yaml", self.name()));
                    parse_str(text, &path).ok().map(|file| loaded(&path, file))
                })
                .clone()
        })
    }
}
