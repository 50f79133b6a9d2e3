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

#[path = "support/engine.rs"]
mod engine;
#[path = "support/stats.rs"]
mod stats;
#[path = "../tests/support/stub.rs"]
mod stub;

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use engine::{engine, engine_or_skip, http_get, inspect, remove_labelled, stub_create_body, tenantd_binary, STUB_PORT};
use stats::{row, spread, verdict};

const TENANT: &str = "react";
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
    if !engine_or_skip("daemon_reaction") {
        return;
    }
    let runs: usize = stats::env_num("RUNS", 7);
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
    row("a. spec edit → new container answers /health", &a, 2);
    row("   … new container running", &col(&|r| r.a.running_s), 2);
    row("b. `docker rm -f` → container of that name running", &b_run, 2);
    row("b. `docker rm -f` → it answers /health", &b, 2);
    row("c. floor: engine API create + start → /health", &c, 2);
    row("   … container running", &col(&|r| r.c.running_s), 2);
    row("c'. floor via `docker run -d` → /health", &c_cli, 2);
    row("a − c (run by run)", &a_minus_c, 2);
    row("b(/health) − c (run by run)", &b_minus_c, 2);
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
            let ours = engine::containers_labelled(&[format!("io.tenantd.instance={}", self.instance)]).len();
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
        let labels = json!({ "io.tenantd.bench": self.instance });
        let env = ["GREETING=hello".to_string()];
        let body = stub_create_body(&self.image, &env, 64 << 20, &self.peer_network, port, &labels);
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
        let publish = format!("127.0.0.1:{port}:{STUB_PORT}");
        let label = format!("io.tenantd.bench={}", self.instance);
        let t0 = Instant::now();
        let out = Command::new("docker")
            .args(["run", "-d", "--name", &name, "--label", &label, "--init", "--read-only", "--cap-drop", "ALL"])
            .args(["--security-opt", "no-new-privileges", "--ipc", "private", "--cgroupns", "private"])
            .args(["--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m", "--user", "10001:10001"])
            .args(["--memory", "64m", "--memory-swap", "64m", "--cpus", "0.25", "--pids-limit", "64"])
            .args(["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=16384:16384"])
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
        remove_labelled(&format!("io.tenantd.instance={}", self.instance));
        remove_labelled(&format!("io.tenantd.bench={}", self.instance));
        // The host rules tenantd installed for the bench's instance outlive its networks.
        let table = format!("tenantd_{}", self.instance);
        let _ = std::process::Command::new("nft").args(["delete", "table", "inet", &table]).output();
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
