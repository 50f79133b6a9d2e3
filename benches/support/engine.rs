//! The Docker engine's API spoken directly over its unix socket, the create body tenantd sends for
//! a stub tenant, and the probes and clean-up the benches that use the real engine share.

// Each bench includes this module and uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

/// The port the stub runtime serves /health on inside its container.
pub const STUB_PORT: u16 = 18789;

/// What the benches read of an inspected container.
pub struct Container {
    pub id: String,
    pub running: bool,
    /// The host port `STUB_PORT` is published on.
    pub port: Option<u16>,
}

/// The container named (or with the id) `name`, if the engine knows it.
pub fn inspect(name: &str) -> Option<Container> {
    let (code, v) = engine("GET", &format!("/containers/{name}/json"), None);
    if code != 200 {
        return None;
    }
    let port =
        v["NetworkSettings"]["Ports"][format!("{STUB_PORT}/tcp")][0]["HostPort"].as_str().and_then(|p| p.parse().ok());
    Some(Container {
        id: v["Id"].as_str()?.to_string(),
        running: v["State"]["Running"].as_bool().unwrap_or(false),
        port,
    })
}

/// The engine's list of containers (running or not) that carry every one of `labels`
/// (`key=value`).
pub fn containers_labelled(labels: &[String]) -> Vec<Value> {
    let (_, list) = engine("GET", &format!("/containers/json?all=true&filters={}", label_filter(labels)), None);
    list.as_array().cloned().unwrap_or_default()
}

/// The engine's list of networks that carry every one of `labels`.
pub fn networks_labelled(labels: &[String]) -> Vec<Value> {
    let (_, list) = engine("GET", &format!("/networks?filters={}", label_filter(labels)), None);
    list.as_array().cloned().unwrap_or_default()
}

/// Force-removes every container, then every network and volume, that carries `label`. For
/// Drop guards: errors are ignored, what is already gone is fine.
pub fn remove_labelled(label: &str) {
    let labels = [label.to_string()];
    for c in containers_labelled(&labels) {
        if let Some(id) = c["Id"].as_str() {
            engine("DELETE", &format!("/containers/{id}?force=true&v=true"), None);
        }
    }
    for n in networks_labelled(&labels) {
        if let Some(id) = n["Id"].as_str() {
            engine("DELETE", &format!("/networks/{id}"), None);
        }
    }
    let (_, vols) = engine("GET", &format!("/volumes?filters={}", label_filter(&labels)), None);
    for v in vols["Volumes"].as_array().into_iter().flatten() {
        if let Some(name) = v["Name"].as_str() {
            engine("DELETE", &format!("/volumes/{name}"), None);
        }
    }
}

/// The create body tenantd sends for a stub tenant with `resources: { memory, cpus: 0.25,
/// pids: 64 }` and the stub's probe as its healthcheck (1 s interval, timeout and start period,
/// 3 retries), field for field, but with `labels` instead of tenantd's own.
pub fn stub_create_body(
    image: &str,
    env: &[String],
    memory_bytes: u64,
    network: &str,
    host_port: u16,
    labels: &Value,
) -> Value {
    json!({
        "Image": image,
        "Env": env,
        "User": "10001:10001",
        "Labels": labels,
        "Healthcheck": {
            "Test": ["CMD", "/stub-runtime", "probe", format!("http://127.0.0.1:{STUB_PORT}/health")],
            "Interval": 1_000_000_000u64, "Timeout": 1_000_000_000u64, "StartPeriod": 1_000_000_000u64, "Retries": 3
        },
        "StopTimeout": 10,
        "ExposedPorts": { format!("{STUB_PORT}/tcp"): {} },
        "HostConfig": {
            "CapDrop": ["ALL"],
            "ReadonlyRootfs": true,
            "SecurityOpt": ["no-new-privileges"],
            "Privileged": false,
            "Init": true,
            "IpcMode": "private",
            "CgroupnsMode": "private",
            "Tmpfs": { "/tmp": "rw,noexec,nosuid,nodev,size=64m" },
            "Memory": memory_bytes, "MemorySwap": memory_bytes, "NanoCpus": 250_000_000u64, "PidsLimit": 64,
            "Ulimits": [
                { "Name": "nofile", "Soft": 4096, "Hard": 4096 },
                { "Name": "nproc", "Soft": 16384, "Hard": 16384 }
            ],
            "LogConfig": { "Type": "json-file", "Config": { "max-size": "10m", "max-file": "3" } },
            "RestartPolicy": { "Name": "on-failure", "MaximumRetryCount": 5 },
            "NetworkMode": network,
            "PortBindings": { format!("{STUB_PORT}/tcp"): [{ "HostIp": "127.0.0.1", "HostPort": host_port.to_string() }] }
        },
        "NetworkingConfig": { "EndpointsConfig": { network: { "Aliases": ["runtime"] } } }
    })
}

/// Whether an engine answers on the socket at all.
pub fn docker_answers() -> bool {
    std::panic::catch_unwind(|| engine("GET", "/_ping", None).0 == 200).unwrap_or(false)
}

/// Whether `bench` can measure on an engine: when none answers it says so and is skipped, or,
/// with `TENANTD_REQUIRE_DOCKER=1`, the process exits with 1.
pub fn engine_or_skip(bench: &str) -> bool {
    if docker_answers() {
        return true;
    }
    eprintln!("SKIPPED {bench}: no Docker engine answers");
    if std::env::var("TENANTD_REQUIRE_DOCKER").as_deref() == Ok("1") {
        std::process::exit(1);
    }
    false
}

/// The engine's unix socket: `DOCKER_HOST` when it names one, else the default.
pub fn socket_path() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => PathBuf::from(&h["unix://".len()..]),
        Ok(h) if !h.is_empty() => panic!("the benches speak to a unix socket only; DOCKER_HOST={h}"),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

/// One HTTP/1.0 request to the engine; the status code and the JSON body (Null when empty).
pub fn engine(method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = UnixStream::connect(socket_path()).expect("the engine's socket accepts");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let payload = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .expect("request written");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("response read");
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, serde_json::from_str(rest).unwrap_or(Value::Null))
}

/// The `filters` query value that keeps objects carrying every one of `labels`.
pub fn label_filter(labels: &[String]) -> String {
    url_encode(&json!({ "label": labels }).to_string())
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP GET on 127.0.0.1; the status code, or None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// The tenantd binary to measure: `TENANTD_BIN`, else the release build, else the debug build
/// of the target directory.
pub fn tenantd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TENANTD_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("tenantd"))
        .find(|p| p.exists())
        .expect("build tenantd first (cargo build --release)")
}
