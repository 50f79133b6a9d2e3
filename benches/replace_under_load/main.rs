//! Benchmark: what a tenant's clients see while its runtime is replaced, on the real Docker
//! engine: tenantd replacing start first (the default, behind the tenant's ingress), tenantd
//! replacing stop first (`rollout: { strategy: stopFirst }`), and docker-compose 1.x.
//!
//! Every side runs one tenant of the stub runtime: the same image, env, limits (64Mi memory,
//! 0.25 CPU, 64 pids), healthcheck (every 2 s, timeout 1 s, 3 retries, start period 2 s), named
//! volume and endpoint published on 127.0.0.1. Two steady clients of 100 requests/s each send
//! GET /health to the endpoint, one on a new connection per request, one on kept-alive
//! connections, while the side goes through four scenarios:
//!   1. an env change (`tenantd apply`; `docker-compose up -d`);
//!   2. a replacement whose new version answers 503 on /health (env `STUB_HEALTH: degraded`):
//!      tenantd rolls back, docker-compose has no health gate and switches to it;
//!   3. a restart of the tenantd daemon (SIGTERM, exit, start, "tenantd is running" + 1 s);
//!      docker-compose has no daemon;
//!   4. `docker rm -f` of the serving runtime container, the tenantd daemon running so that it
//!      repairs it; docker-compose does not.
//!
//! The window of a scenario: both clients start, answer for 2 s (the steady part), the action
//! runs, then the window lasts until both clients have answers with 200 again after the action
//! returned (at most `CAP_S`, 20 s, after it returned) and 2 s more. `ROUNDS` (default 1)
//! repeats everything, with the sides in an order that rotates from round to round, and the
//! tables show medians. The binary is `TENANTD_BIN`, else the release build, else the debug
//! build. Everything the run creates carries its run id (instances `rul<pid>a`/`rul<pid>b`,
//! compose project `rul<pid>c`, label `io.tenantd.bench=rul<pid>`) and is removed at the end,
//! also on failure.

#[path = "../support/engine.rs"]
mod engine;
// Built as a bench without the test harness, `#[test]` functions are left out, and an import
// that only load.rs's unit tests use would be an unused import.
#[allow(unused_imports)]
#[path = "../../tests/support/load.rs"]
mod load;
#[path = "../support/stats.rs"]
mod stats;
#[path = "../../tests/support/stub.rs"]
mod stub;

mod command;
mod compose_side;
mod report;
mod scenario;
mod side;
mod tenantd_side;
mod traffic;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use compose_side::ComposeSide;
use report::Results;
use side::{Side, SCENARIOS};
use tenantd_side::TenantdSide;

/// Where the sides' host ports are looked for: below the kernel's ephemeral ports and above the
/// ranges the integration tests (20000–29999) and the other benches use.
const PORT_SEARCH: (u16, u16) = (31500, 32499);
/// Host ports per tenantd instance (its `port_range`).
const TENANTD_PORTS: u16 = 10;

fn main() {
    // `cargo test --all-targets` builds and runs bench targets too; only `cargo bench` (which
    // passes `--bench`) measures anything.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark not run: use `cargo bench --bench replace_under_load`");
        return;
    }
    if !engine::engine_or_skip("replace_under_load") {
        return;
    }
    let rounds: usize = stats::env_num("ROUNDS", 1).max(1);
    let run_id = format!("rul{}", std::process::id());
    let cleanup = Cleanup::new(&run_id);
    let result = std::panic::catch_unwind(|| measure(&run_id, rounds));
    drop(cleanup);
    if result.is_err() {
        std::process::exit(1);
    }
}

fn measure(run_id: &str, rounds: usize) {
    let image = stub::stub_image();
    let bin = engine::tenantd_binary();
    header(&bin, run_id, rounds);

    let start_first_ports = free_block(PORT_SEARCH.0, TENANTD_PORTS);
    let stop_first_ports = free_block(start_first_ports.1 + 1, TENANTD_PORTS);
    let compose_port = free_block(stop_first_ports.1 + 1, 1).0;

    let mut sides: Vec<Box<dyn Side>> = vec![
        Box::new(TenantdSide::new(&bin, &format!("{run_id}a"), &image, start_first_ports, false)),
        Box::new(TenantdSide::new(&bin, &format!("{run_id}b"), &image, stop_first_ports, true)),
        Box::new(ComposeSide::new(&format!("{run_id}c"), run_id, &image, compose_port)),
    ];
    for side in sides.iter_mut() {
        eprintln!("replace_under_load: bringing up {}", side.label());
        side.up();
    }
    println!(
        "  endpoints: {}",
        sides.iter().map(|s| format!("{} 127.0.0.1:{}", s.label(), s.port())).collect::<Vec<_>>().join(", ")
    );

    let mut results: Results = BTreeMap::new();
    let count = sides.len();
    for round in 0..rounds {
        for sc in SCENARIOS {
            for k in 0..count {
                let i = (round + k) % count;
                let side = sides[i].as_mut();
                eprintln!("replace_under_load: round {}/{rounds}: {}: {}", round + 1, sc.title(), side.label());
                let outcome = scenario::run(side, sc, round);
                if let scenario::Outcome::Measured(sample) = &outcome {
                    eprintln!("  {}", sample.line());
                }
                results.entry((sc, i)).or_default().push(outcome);
            }
        }
    }
    let labels: Vec<&'static str> = sides.iter().map(|s| s.label()).collect();
    report::print(&labels, &results, rounds);
    println!();
    println!("load average at the end: {}", load_average());
}

fn header(bin: &Path, run_id: &str, rounds: usize) {
    let age = std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| m.elapsed().ok())
        .map(|d| format!("{} s old", d.as_secs()))
        .unwrap_or_default();
    let build = if bin.components().any(|c| c.as_os_str() == "release") {
        "release build"
    } else if bin.components().any(|c| c.as_os_str() == "debug") {
        "debug build"
    } else {
        "build of unknown profile"
    };
    let compose = Command::new("docker-compose").args(["version", "--short"]).output().expect("docker-compose runs");
    let (_, version) = engine::engine("GET", "/version", None);
    let (_, info) = engine::engine("GET", "/info", None);
    let nproc = Command::new("nproc").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let mem_gib = info["MemTotal"].as_f64().map(|b| format!("{:.1} GiB", b / f64::from(1u32 << 30)));
    println!(
        "replace_under_load: one stub tenant per side, 2 clients × {} requests/s on GET /health, {rounds} round{}, run {run_id}",
        traffic::RATE_PER_CLIENT,
        if rounds == 1 { "" } else { "s" }
    );
    println!(
        "  machine: nproc {}, {} memory, kernel {}, Docker {} (API {}, {}, cgroup v{}), docker-compose {}",
        nproc.unwrap_or_else(|_| "?".into()),
        mem_gib.unwrap_or_else(|| "?".into()),
        version["KernelVersion"].as_str().unwrap_or("?"),
        version["Version"].as_str().unwrap_or("?"),
        version["ApiVersion"].as_str().unwrap_or("?"),
        info["Driver"].as_str().unwrap_or("?"),
        info["CgroupVersion"].as_str().unwrap_or("?"),
        String::from_utf8_lossy(&compose.stdout).trim(),
    );
    println!("  tenantd: {} ({build}, {age})", bin.display());
    println!("  load average at the start: {}", load_average());
}

/// The first `n` consecutive free host ports from `from` on, as an inclusive range.
fn free_block(from: u16, n: u16) -> (u16, u16) {
    (from..=PORT_SEARCH.1 - n)
        .find(|&p| (p..p + n).all(port_is_free))
        .map(|p| (p, p + n - 1))
        .unwrap_or_else(|| panic!("no {n} free host ports between {from} and {}", PORT_SEARCH.1))
}

/// Whether nothing listens on 127.0.0.1:`port` (nor on the wildcard address).
fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn load_average() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Removes every object of the run when dropped: both tenantd instances' (and their nftables
/// tables), docker-compose's project, and everything labelled with the run. The sides are
/// dropped first (inside `measure`), which kills a daemon still running, so nothing repairs
/// what this removes.
struct Cleanup {
    labels: Vec<String>,
    instances: Vec<String>,
}

impl Cleanup {
    fn new(run_id: &str) -> Cleanup {
        let instances = vec![format!("{run_id}a"), format!("{run_id}b")];
        let mut labels: Vec<String> = instances.iter().map(|i| format!("io.tenantd.instance={i}")).collect();
        labels.push(format!("com.docker.compose.project={run_id}c"));
        labels.push(format!("io.tenantd.bench={run_id}"));
        Cleanup { labels, instances }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for label in &self.labels {
            engine::remove_labelled(label);
        }
        for instance in &self.instances {
            // The nftables table tenantd keeps for an instance (it never removes it itself).
            let table = format!("tenantd_{instance}");
            let listed = Command::new("nft").args(["list", "table", "inet", &table]).output();
            if listed.is_ok_and(|o| o.status.success()) {
                let _ = Command::new("nft").args(["delete", "table", "inet", &table]).output();
            }
        }
    }
}
