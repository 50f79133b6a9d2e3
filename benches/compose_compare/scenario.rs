//! What every side converges to: N tenants of the stub runtime, written as tenantd specs, as one
//! equivalent compose file, and as the floor's create bodies. All three give each tenant the
//! same image, limits, hardening, healthcheck, env, published port and private network.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::engine::{self, STUB_PORT};

/// The env value every tenant starts with.
pub const GREETING: &str = "hello";
/// The memory limit every tenant starts with, and the one the in-place phase sets.
pub const MEMORY_MIB: u64 = 64;
pub const EDITED_MEMORY_MIB: u64 = 96;
/// The engine healthcheck's timeout and start period, in seconds; its interval is the
/// scenario's. Nothing waits on the engine's health status (tenantd and the bench probe /health
/// on the published port themselves), so these only set how much exec work the engine does.
pub const HEALTH_TIMEOUT_S: u64 = 5;
pub const HEALTH_START_PERIOD_S: u64 = 30;
/// The tenant whose env value the one-change phase edits.
pub const ENV_EDITED: usize = 0;
/// The tenant whose memory limit the in-place phase edits (another one, so that each phase
/// starts from a container that has not just been replaced).
pub const MEMORY_EDITED: usize = 1;

/// One tenant's settings that the phases edit; everything else is the same for all.
#[derive(Clone)]
pub struct Tenant {
    pub name: String,
    pub greeting: String,
    pub memory_mib: u64,
}

impl Tenant {
    pub fn env(&self) -> Vec<String> {
        vec![format!("GREETING={}", self.greeting)]
    }

    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib << 20
    }
}

/// The desired state of all N tenants.
#[derive(Clone)]
pub struct Scenario {
    pub image: String,
    /// Seconds between two runs of the engine's healthcheck in each container. Each run is an
    /// exec into the container, which costs the engine far more CPU than the probe itself: 20
    /// containers checked every second kept about one core of this machine busy.
    pub health_interval_s: u64,
    pub tenants: Vec<Tenant>,
}

impl Scenario {
    /// N tenants named t01, t02, … (wider numbers when N needs them).
    pub fn new(image: &str, n: usize, health_interval_s: u64) -> Scenario {
        let width = n.to_string().len().max(2);
        let tenants = (1..=n)
            .map(|i| Tenant { name: format!("t{i:0width$}"), greeting: GREETING.into(), memory_mib: MEMORY_MIB })
            .collect();
        Scenario { image: image.to_string(), health_interval_s, tenants }
    }
}

/// Where one side's tenants live on the host, tenant by tenant: the published host port and the
/// subnet of the private network. tenantd picks its own; the compose file and the floor are told.
pub struct Placement {
    pub ports: Vec<u16>,
    pub subnets: Vec<String>,
}

/// The tenantd spec of `t`.
pub fn spec_yaml(s: &Scenario, t: &Tenant) -> String {
    format!(
        "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {name} }}
spec:
  image: {image}
  pullPolicy: Never
  env: {{ GREETING: {greeting:?} }}
  resources: {{ memory: {memory}Mi, cpus: 0.25, pids: 64 }}
  health: {{ interval: {interval}s, timeout: {HEALTH_TIMEOUT_S}s, retries: 3, startPeriod: {HEALTH_START_PERIOD_S}s, probeCommand: [/stub-runtime, probe] }}
  network: {{ egress: allow }}
",
        image = s.image,
        interval = s.health_interval_s,
        name = t.name,
        greeting = t.greeting,
        memory = t.memory_mib,
    )
}

/// A compose file (format 2.4, which takes limits directly) with one service and one network per
/// tenant, each service the create body of [`engine::stub_create_body`] in compose's words. The
/// service and its network are both named after the tenant.
pub fn compose_file(s: &Scenario, run_id: &str, at: &Placement) -> String {
    let mut f = String::from("version: \"2.4\"\nservices:\n");
    for (i, t) in s.tenants.iter().enumerate() {
        let port = at.ports[i];
        let memory = t.memory_mib;
        write!(
            f,
            "  {name}:
    image: {image}
    init: true
    read_only: true
    privileged: false
    cap_drop: [ALL]
    security_opt: [no-new-privileges]
    ipc: private
    user: \"10001:10001\"
    environment: {{ GREETING: {greeting:?} }}
    mem_limit: {memory}m
    memswap_limit: {memory}m
    cpus: 0.25
    pids_limit: 64
    ulimits: {{ nofile: {{ soft: 4096, hard: 4096 }}, nproc: {{ soft: 16384, hard: 16384 }} }}
    tmpfs: [\"/tmp:rw,noexec,nosuid,nodev,size=64m\"]
    ports: [\"127.0.0.1:{port}:{STUB_PORT}\"]
    healthcheck:
      test: [CMD, /stub-runtime, probe, \"http://127.0.0.1:{STUB_PORT}/health\"]
      interval: {interval}s
      timeout: {HEALTH_TIMEOUT_S}s
      retries: 3
      start_period: {HEALTH_START_PERIOD_S}s
    stop_grace_period: 10s
    restart: on-failure:5
    logging: {{ driver: json-file, options: {{ max-size: 10m, max-file: \"3\" }} }}
    labels: {{ io.tenantd.bench: {run_id} }}
    networks: {{ {name}: {{ aliases: [runtime] }} }}
",
            name = t.name,
            image = s.image,
            greeting = t.greeting,
            interval = s.health_interval_s,
        )
        .expect("writing to a String");
    }
    f.push_str("networks:\n");
    for (i, t) in s.tenants.iter().enumerate() {
        write!(
            f,
            "  {name}:
    driver: bridge
    ipam: {{ config: [ {{ subnet: {subnet} }} ] }}
    labels: {{ io.tenantd.bench: {run_id} }}
",
            name = t.name,
            subnet = at.subnets[i],
        )
        .expect("writing to a String");
    }
    f
}

/// The floor's network for one tenant: the bridge tenantd creates, on an explicit subnet.
pub fn floor_network_body(name: &str, subnet: &str, labels: &Value) -> Value {
    json!({
        "Name": name,
        "Driver": "bridge",
        "Internal": false,
        "Attachable": false,
        "Labels": labels,
        "IPAM": { "Config": [{ "Subnet": subnet }] }
    })
}

/// The floor's container for `t`: tenantd's create body with the scenario's healthcheck timing
/// and the floor's own labels.
pub fn floor_container_body(s: &Scenario, t: &Tenant, network: &str, port: u16, labels: &Value) -> Value {
    let mut body = engine::stub_create_body(&s.image, &t.env(), t.memory_bytes(), network, port, labels);
    const NS: u64 = 1_000_000_000;
    body["Healthcheck"]["Interval"] = json!(s.health_interval_s * NS);
    body["Healthcheck"]["Timeout"] = json!(HEALTH_TIMEOUT_S * NS);
    body["Healthcheck"]["StartPeriod"] = json!(HEALTH_START_PERIOD_S * NS);
    body
}
