//! Benchmark: how fast `tenantd run` reacts on the real Docker engine, against the engine's own
//! floor measured in the same run.
//!
//! One tenant from the stub image, `resync_interval = "1h"` so only file and engine events can
//! explain a reaction. Each of `RUNS` (default 7) rounds measures, interleaved so that load on the
//! machine hits all of them alike:
//!   a. spec edit (env value, written via temp file + rename) → a new container id answers
//!      GET /health 200 on its host port;
//!   b. the engine removes the tenant's container (`docker rm -f`, sent as the same API call) →
//!      a container of that name runs again, and → it answers /health;
//!   c. the floor: the engine creates and starts an identical hardened container from the same
//!      image (the same create body tenantd sends, straight to the API) and it answers /health;
//!      c' the same through `docker run -d …`, CLI start-up included.
//! The engine is polled every 10 ms through its API socket (a CLI call would take longer than
//! the interval). The binary is `TENANTD_BIN`, else `target/release/tenantd`, else
//! `target/debug/tenantd`. Everything labelled with this run's instance, and the peer
//! containers and network, are removed at the end, also on failure.

#[path = "../tests/support/stub.rs"]
mod stub;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TENANT: &str = "react";
const CONTAINER_PORT: u16 = 18789;
const PORTS: (u16, u16) = (24000, 24019);
const POLL: Duration = Duration::from_millis(10);
/// Longest wait for any one reaction; a reaction this slow is a failure, not a number.
const DEADLINE: Duration = Duration::from_secs(90);
/// Target for (a) − (c) and for (b), in seconds.
const TARGET_EDIT_OVER_FLOOR_S: f64 = 1.0;
const TARGET_REMOVE_S: f64 = 2.0;

fn main() {
    // `cargo test --all-targets` builds and runs bench targets too; only `cargo bench` (which
    // passes `--bench`) and the bench's own child processes measure anything.
    if !std::env::args().any(|a| a == "--bench" || a == "--child") {
        println!("benchmark not run: use `cargo bench` or scripts/bench.sh");
        return;
    }
    if !docker_answers() {
        eprintln!("SKIPPED daemon_reaction: no Docker engine answers");
        if std::env::var("TENANTD_REQUIRE_DOCKER").as_deref() == Ok("1") {
            std::process::exit(1);
        }
        return;
    }
    let runs: usize = std::env::var("RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let image = stub::stub_image();
    let bin = tenantd_binary();
    let bench = Bench::new(&image);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| measure(&bench, &bin, runs)));
    if result.is_err() {
        eprintln!("daemon_reaction failed; the daemon's log follows:\n{}", bench.daemon_log());
        drop(bench);
        std::process::exit(1);
    }
}

fn measure(bench: &Bench, bin: &Path, runs: usize) {
    let modified = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    let age = modified.and_then(|m| m.elapsed().ok()).map(|d| format!("{} s old", d.as_secs())).unwrap_or_default();
    println!("daemon_reaction: {runs} runs, binary {} ({age}), instance {}", bin.display(), bench.instance);

    bench.write_spec("hello");
    let _daemon = bench.start_daemon(bin);
    let first = wait_serving(&bench.container_name(), None, Instant::now());
    eprintln!("daemon_reaction: tenant converged (first start {:.2} s after the daemon)", first.health_s);
    bench.settle();

    let mut rows: Vec<Round> = Vec::new();
    for i in 1..=runs {
        eprintln!("daemon_reaction: run {i}/{runs}");
        let a = bench.spec_edit(&format!("v{i}"));
        bench.settle();
        let b = bench.remove_container();
        bench.settle();
        let c = bench.peer_api(i);
        let c_cli = bench.peer_cli(i);
        rows.push(Round { a, b, c, c_cli });
    }
    report(&rows);
}

struct Round {
    a: Reaction,
    b: Reaction,
    c: Reaction,
    c_cli: Reaction,
}

/// Seconds from the trigger until the container runs, and until it answers /health.
#[derive(Clone, Copy)]
struct Reaction {
    running_s: f64,
    health_s: f64,
}

fn report(rows: &[Round]) {
    let col = |f: &dyn Fn(&Round) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
    let a = col(&|r| r.a.health_s);
    let b_run = col(&|r| r.b.running_s);
    let b = col(&|r| r.b.health_s);
    let c = col(&|r| r.c.health_s);
    let c_cli = col(&|r| r.c_cli.health_s);
    let a_minus_c = col(&|r| r.a.health_s - r.c.health_s);
    let b_minus_c = col(&|r| r.b.health_s - r.c.health_s);
    println!();
    println!("| reaction ({} runs), seconds | median | min–max |", rows.len());
    println!("|---|---:|---:|");
    row("a. spec edit → new container answers /health", &a);
    row("   … new container running", &col(&|r| r.a.running_s));
    row("b. `docker rm -f` → container of that name running", &b_run);
    row("b. `docker rm -f` → it answers /health", &b);
    row("c. floor: engine API create + start → /health", &c);
    row("   … container running", &col(&|r| r.c.running_s));
    row("c'. floor via `docker run -d` → /health", &c_cli);
    row("a − c (run by run)", &a_minus_c);
    row("b(/health) − c (run by run)", &b_minus_c);
    let (am, _, _) = spread(&a_minus_c);
    let (bm, _, bmax) = spread(&b_run);
    println!();
    println!("ratio a / c (medians): {:.2}", spread(&a).0 / spread(&c).0);
    println!(
        "target a − c < {TARGET_EDIT_OVER_FLOOR_S} s: {} (median {am:.2} s); target b < {TARGET_REMOVE_S} s: {} (median {bm:.2} s, max {bmax:.2} s)",
        verdict(am < TARGET_EDIT_OVER_FLOOR_S),
        verdict(bm < TARGET_REMOVE_S)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn row(label: &str, v: &[f64]) {
    let (m, lo, hi) = spread(v);
    println!("| {label} | {m:.2} | {lo:.2}–{hi:.2} |");
}

/// Median, min and max.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let m = match n {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    (m, v.first().copied().unwrap_or(f64::NAN), v.last().copied().unwrap_or(f64::NAN))
}

fn tenantd_binary() -> PathBuf {
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

// ---------------------------------------------------------------------------------------------
// The world of one bench run.

struct Bench {
    dir: tempfile::TempDir,
    instance: String,
    image: String,
    peer_network: String,
}

/// The daemon child; killed when dropped.
struct DaemonProcess(Child);

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Bench {
    fn new(image: &str) -> Bench {
        let instance = format!("bench{}", std::process::id());
        let dir = tempfile::Builder::new().prefix("tenantd-bench-react").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("tenants.d")).unwrap();
        let config = format!(
            "tenants_dir = {:?}\nstate_dir = {:?}\ninstance = {instance:?}\nport_range = [{}, {}]\n\n[daemon]\nresync_interval = \"1h\"\n",
            dir.path().join("tenants.d"),
            dir.path().join("state"),
            PORTS.0,
            PORTS.1
        );
        std::fs::write(dir.path().join("tenantd.toml"), config).unwrap();
        let peer_network = format!("{instance}-peer");
        let bench = Bench { dir, instance, image: image.to_string(), peer_network };
        let (code, body) = engine(
            "POST",
            "/networks/create",
            Some(
                &json!({ "Name": bench.peer_network, "Driver": "bridge", "Labels": { "io.tenantd.bench": bench.instance } }),
            ),
        );
        assert!(code == 201, "cannot create the peer network: {code} {body}");
        bench
    }

    fn container_name(&self) -> String {
        format!("{}_{TENANT}", self.instance)
    }

    fn write_spec(&self, greeting: &str) {
        let yaml = format!(
            "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {TENANT} }}
spec:
  image: {}
  pullPolicy: Never
  env: {{ GREETING: {greeting} }}
  resources: {{ memory: 64Mi, cpus: 0.25, pids: 64 }}
  health: {{ interval: 1s, timeout: 1s, retries: 3, startPeriod: 1s, probeCommand: [/stub-runtime, probe] }}
",
            self.image
        );
        let tmp = self.dir.path().join(format!(".{TENANT}.yaml.tmp"));
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, self.dir.path().join("tenants.d").join(format!("{TENANT}.yaml"))).unwrap();
    }

    fn start_daemon(&self, bin: &Path) -> DaemonProcess {
        let log = File::create(self.dir.path().join("daemon.log")).expect("log file");
        let child = Command::new(bin)
            .arg("--config")
            .arg(self.dir.path().join("tenantd.toml"))
            .arg("run")
            .env_remove("CONTAINER_RUNTIME")
            .env_remove("TENANTD_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env("TENANTD_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tenantd run starts");
        DaemonProcess(child)
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Waits until the daemon is done with the last reaction: one container of the instance,
    /// the one the status file names, and then a moment for passes that its own events trigger.
    fn settle(&self) {
        let name = self.container_name();
        let status = self.dir.path().join("state/status").join(format!("{TENANT}.json"));
        let deadline = Instant::now() + DEADLINE;
        loop {
            let ours = list_instance_containers(&self.instance);
            let current = inspect(&name);
            let recorded: Option<String> = std::fs::read_to_string(&status)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["containerId"].as_str().map(str::to_string));
            if let (1, Some(c)) = (ours, &current) {
                if c.running && recorded.as_deref() == Some(c.id.as_str()) {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the daemon did not settle within {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
    }

    /// (a) A changed env value → a new container answers /health.
    fn spec_edit(&self, greeting: &str) -> Reaction {
        let old = inspect(&self.container_name()).expect("the tenant's container").id;
        let t0 = Instant::now();
        self.write_spec(greeting);
        wait_serving(&self.container_name(), Some(&old), t0)
    }

    /// (b) The container is removed behind tenantd's back → a container of that name runs and
    /// answers again. The clock starts before the removal, so it includes the removal itself.
    fn remove_container(&self) -> Reaction {
        let name = self.container_name();
        let old = inspect(&name).expect("the tenant's container").id;
        let t0 = Instant::now();
        let (code, body) = engine("DELETE", &format!("/containers/{name}?force=true"), None);
        assert!(code == 204, "cannot remove {name}: {code} {body}");
        wait_serving(&name, Some(&old), t0)
    }

    /// (c) The engine's floor: the create body tenantd sends for this tenant (minus its labels),
    /// created and started straight through the API.
    fn peer_api(&self, i: usize) -> Reaction {
        let name = format!("{}-peer-api{i}", self.instance);
        let port = free_port();
        let body = json!({
            "Image": self.image,
            "Env": ["GREETING=hello"],
            "User": "10001:10001",
            "Labels": { "io.tenantd.bench": self.instance },
            "Healthcheck": {
                "Test": ["CMD", "/stub-runtime", "probe", format!("http://127.0.0.1:{CONTAINER_PORT}/health")],
                "Interval": 1_000_000_000u64, "Timeout": 1_000_000_000u64, "StartPeriod": 1_000_000_000u64, "Retries": 3
            },
            "StopTimeout": 10,
            "ExposedPorts": { format!("{CONTAINER_PORT}/tcp"): {} },
            "HostConfig": {
                "CapDrop": ["ALL"],
                "ReadonlyRootfs": true,
                "SecurityOpt": ["no-new-privileges"],
                "Privileged": false,
                "Init": true,
                "IpcMode": "private",
                "CgroupnsMode": "private",
                "Tmpfs": { "/tmp": "rw,noexec,nosuid,nodev,size=64m" },
                "Memory": 64u64 << 20, "MemorySwap": 64u64 << 20, "NanoCpus": 250_000_000u64, "PidsLimit": 64,
                "Ulimits": [
                    { "Name": "nofile", "Soft": 4096, "Hard": 4096 },
                    { "Name": "nproc", "Soft": 65536, "Hard": 65536 }
                ],
                "LogConfig": { "Type": "json-file", "Config": { "max-size": "10m", "max-file": "3" } },
                "RestartPolicy": { "Name": "on-failure", "MaximumRetryCount": 5 },
                "NetworkMode": self.peer_network,
                "PortBindings": { format!("{CONTAINER_PORT}/tcp"): [{ "HostIp": "127.0.0.1", "HostPort": port.to_string() }] }
            },
            "NetworkingConfig": { "EndpointsConfig": { self.peer_network.clone(): { "Aliases": ["runtime"] } } }
        });
        let t0 = Instant::now();
        let (code, created) = engine("POST", &format!("/containers/create?name={name}"), Some(&body));
        assert!(code == 201, "cannot create the peer container: {code} {created}");
        let id = created["Id"].as_str().expect("created id").to_string();
        let (code, out) = engine("POST", &format!("/containers/{id}/start"), None);
        assert!(code == 204, "cannot start the peer container: {code} {out}");
        let r = wait_serving(&name, None, t0);
        engine("DELETE", &format!("/containers/{id}?force=true"), None);
        r
    }

    /// (c') The same container through `docker run -d`, so the CLI's own start-up is included.
    /// The CLI can only give a shell-form healthcheck, which a scratch image cannot run, so this
    /// one has none; it does not affect when /health answers.
    fn peer_cli(&self, i: usize) -> Reaction {
        let name = format!("{}-peer-cli{i}", self.instance);
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:{CONTAINER_PORT}");
        let label = format!("io.tenantd.bench={}", self.instance);
        let t0 = Instant::now();
        let out = Command::new("docker")
            .args(["run", "-d", "--name", &name, "--label", &label, "--init", "--read-only", "--cap-drop", "ALL"])
            .args(["--security-opt", "no-new-privileges", "--ipc", "private", "--cgroupns", "private"])
            .args(["--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m", "--user", "10001:10001"])
            .args(["--memory", "64m", "--memory-swap", "64m", "--cpus", "0.25", "--pids-limit", "64"])
            .args(["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=65536:65536"])
            .args(["--log-opt", "max-size=10m", "--log-opt", "max-file=3", "--restart", "on-failure:5"])
            .args(["--network", &self.peer_network, "--network-alias", "runtime", "-e", "GREETING=hello"])
            .args(["-p", &publish, &self.image])
            .output()
            .expect("docker CLI runs");
        assert!(out.status.success(), "docker run failed: {}", String::from_utf8_lossy(&out.stderr));
        let r = wait_serving(&name, None, t0);
        engine("DELETE", &format!("/containers/{name}?force=true"), None);
        r
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        for label in [format!("io.tenantd.instance={}", self.instance), format!("io.tenantd.bench={}", self.instance)] {
            let filters = url_encode(&json!({ "label": [label] }).to_string());
            let (_, list) = engine("GET", &format!("/containers/json?all=true&filters={filters}"), None);
            for c in list.as_array().into_iter().flatten() {
                if let Some(id) = c["Id"].as_str() {
                    engine("DELETE", &format!("/containers/{id}?force=true&v=true"), None);
                }
            }
            let (_, nets) = engine("GET", &format!("/networks?filters={filters}"), None);
            for n in nets.as_array().into_iter().flatten() {
                if let Some(id) = n["Id"].as_str() {
                    engine("DELETE", &format!("/networks/{id}"), None);
                }
            }
            let (_, vols) = engine("GET", &format!("/volumes?filters={filters}"), None);
            for v in vols["Volumes"].as_array().into_iter().flatten() {
                if let Some(name) = v["Name"].as_str() {
                    engine("DELETE", &format!("/volumes/{name}"), None);
                }
            }
        }
    }
}

/// Polls every 10 ms until a running container of `name` (other than `old`) answers /health on
/// its own published port; times are measured from `t0`.
fn wait_serving(name: &str, old: Option<&str>, t0: Instant) -> Reaction {
    let mut running_s = None;
    loop {
        if let Some(c) = inspect(name).filter(|c| c.running && Some(c.id.as_str()) != old) {
            let now = t0.elapsed().as_secs_f64();
            let running = *running_s.get_or_insert(now);
            if c.port.is_some_and(|p| http_get(p, "/health") == Some(200)) {
                return Reaction { running_s: running, health_s: t0.elapsed().as_secs_f64() };
            }
        }
        assert!(t0.elapsed() < DEADLINE, "{name} did not answer /health within {DEADLINE:?}");
        std::thread::sleep(POLL);
    }
}

/// A host port of the bench's range that nothing listens on now, taken from the top so the
/// daemon (which allocates from the bottom) keeps its own.
fn free_port() -> u16 {
    (PORTS.0..=PORTS.1)
        .rev()
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in the bench's range")
}

// ---------------------------------------------------------------------------------------------
// The engine API, spoken directly over its socket.

struct Container {
    id: String,
    running: bool,
    port: Option<u16>,
}

fn inspect(name: &str) -> Option<Container> {
    let (code, v) = engine("GET", &format!("/containers/{name}/json"), None);
    if code != 200 {
        return None;
    }
    let port = v["NetworkSettings"]["Ports"][format!("{CONTAINER_PORT}/tcp")][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok());
    Some(Container {
        id: v["Id"].as_str()?.to_string(),
        running: v["State"]["Running"].as_bool().unwrap_or(false),
        port,
    })
}

fn list_instance_containers(instance: &str) -> usize {
    let filters = url_encode(&json!({ "label": [format!("io.tenantd.instance={instance}")] }).to_string());
    let (_, list) = engine("GET", &format!("/containers/json?all=true&filters={filters}"), None);
    list.as_array().map(Vec::len).unwrap_or(0)
}

fn docker_answers() -> bool {
    std::panic::catch_unwind(|| engine("GET", "/_ping", None).0 == 200).unwrap_or(false)
}

fn socket_path() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => PathBuf::from(&h["unix://".len()..]),
        Ok(h) if !h.is_empty() => panic!("this bench speaks to a unix socket only; DOCKER_HOST={h}"),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

/// One HTTP/1.0 request to the engine; the status code and the JSON body (Null when empty).
fn engine(method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
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

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP GET on 127.0.0.1; the status code, or None when nothing answers.
fn http_get(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}
