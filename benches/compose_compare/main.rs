//! Benchmark: tenantd against docker-compose 1.x and against the engine's floor, converging N
//! tenants of the stub runtime on the real Docker engine.
//!
//! Every side runs the same N tenants (env `N`, default 50): the same image, limits, read-only
//! rootfs, dropped capabilities, init, published port, env, healthcheck (every `HEALTH_INTERVAL`
//! seconds, default 30: each check is an exec, and 50 execs a second would saturate a small
//! engine) and one private bridge network each. The sides: `tenantd apply` (which waits for the runtimes' probes), `tenantd
//! apply --no-wait`, `docker-compose up -d` on an equivalent compose file, and the floor: the
//! same API calls straight to the engine, as many tenants at a time as tenantd (`CONCURRENCY`,
//! default 8). Each of `ROUNDS` rounds (default 5) runs every side through every phase — cold,
//! no-op, one env change, one in-place memory change, teardown — one side after the other, in an
//! order that rotates from round to round, so load on the machine hits every side alike and each
//! side finds the engine without the others' objects.
//!
//! Of every phase it records the wall time until the command returns and until its effect is
//! visible: every affected container answers GET /health on its 127.0.0.1 port, or, for the
//! teardown, nothing of the side is left. The binary is `TENANTD_BIN`, else the release build.
//! At the end, an engine profile times each kind of the floor's calls alone, one tenant at a
//! time and `CONCURRENCY` at a time, to show which of them the engine serializes.
//! Everything the run creates carries its labels and is removed at the end, also on failure.

#[path = "../support/engine.rs"]
mod engine;
#[path = "../support/stats.rs"]
mod stats;
#[path = "../../tests/support/stub.rs"]
mod stub;

mod compose_side;
mod floor_side;
mod profile;
mod report;
mod scenario;
mod settings;
mod side;
mod subnets;
mod tenantd_side;
mod wait;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use compose_side::ComposeSide;
use floor_side::FloorSide;
use report::{Measured, Who};
use scenario::Scenario;
use side::{Phase, Side, PHASES};
use tenantd_side::TenantdSide;

/// Host ports of each side, apart from the other benches' (24000–24019).
const TENANTD_PORTS: (u16, u16) = (27000, 27299);
const COMPOSE_PORTS: (u16, u16) = (27300, 27599);
const FLOOR_PORTS: (u16, u16) = (27600, 27899);
/// The /16 pools of the compose file's and the floor's network subnets, apart from tenantd's
/// (10.213.0.0/16) and from the engine's default pools.
const COMPOSE_POOL: Ipv4Addr = Ipv4Addr::new(10, 214, 0, 0);
const FLOOR_POOL: Ipv4Addr = Ipv4Addr::new(10, 215, 0, 0);

fn main() {
    // `cargo test --all-targets` builds and runs bench targets too; only `cargo bench` (which
    // passes `--bench`) measures anything.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark not run: use `cargo bench --bench compose_compare`");
        return;
    }
    if !engine::engine_or_skip("compose_compare") {
        return;
    }
    let n: usize = stats::env_num("N", 50);
    let rounds: usize = stats::env_num("ROUNDS", 5);
    let concurrency: usize = stats::env_num("CONCURRENCY", 8);
    let health_interval_s: u64 = stats::env_num("HEALTH_INTERVAL", 30);
    let run_id = format!("cmp{}", std::process::id());
    let cleanup = Cleanup::new(&run_id);
    let result = std::panic::catch_unwind(|| compare(&run_id, n, rounds, concurrency, health_interval_s));
    drop(cleanup);
    if result.is_err() {
        std::process::exit(1);
    }
}

fn compare(run_id: &str, n: usize, rounds: usize, concurrency: usize, health_interval_s: u64) {
    let image = stub::stub_image();
    let bin = engine::tenantd_binary();
    header(&bin, run_id, n, rounds, concurrency, health_interval_s);

    let mut sides: Vec<(Box<dyn Side>, Measured)> = Who::ALL
        .into_iter()
        .map(|who| {
            let side: Box<dyn Side> = match who {
                Who::Tenantd => Box::new(TenantdSide::new(&bin, run_id, range(TENANTD_PORTS), concurrency, false)),
                Who::NoWait => {
                    let instance = format!("{run_id}nw");
                    Box::new(TenantdSide::new(&bin, &instance, range(TENANTD_PORTS), concurrency, true))
                }
                Who::Compose => {
                    Box::new(ComposeSide::new(&format!("{run_id}c"), run_id, range(COMPOSE_PORTS), COMPOSE_POOL))
                }
                Who::Floor => {
                    Box::new(FloorSide::new(&format!("{run_id}f"), run_id, range(FLOOR_PORTS), FLOOR_POOL, concurrency))
                }
            };
            let commands = PHASES.into_iter().map(|p| (p, side.command(p))).collect();
            let measured = Measured { who, label: side.label(), commands, samples: BTreeMap::new(), settings: None };
            (side, measured)
        })
        .collect();

    let deadline = Duration::from_secs(60 + 3 * n as u64);
    for round in 0..rounds {
        let count = sides.len();
        for k in 0..count {
            let (side, measured) = &mut sides[(round + k) % count];
            eprintln!("compose_compare: round {}/{rounds}: {}", round + 1, side.label());
            let mut desired = Scenario::new(&image, n, health_interval_s);
            for phase in PHASES {
                let sample = side::measure(side.as_mut(), &mut desired, phase, deadline);
                if let Some(sample) = sample {
                    measured.samples.entry(phase).or_default().push(sample);
                }
                if phase == Phase::Cold && measured.settings.is_none() {
                    measured.settings = Some(settings::of(&side.container_name(&desired.tenants[0].name)));
                }
            }
        }
    }
    let measured: Vec<Measured> = sides.into_iter().map(|(_, m)| m).collect();
    report::print(&measured, n, rounds);

    // Every side has torn down, so the floor's ports and pool are free for the profile.
    eprintln!("compose_compare: engine profile, 1 and {concurrency} at a time");
    let s = Scenario::new(&image, n, health_interval_s);
    let one = profile::engine_calls(&s, run_id, range(FLOOR_PORTS), FLOOR_POOL, 1);
    let many = profile::engine_calls(&s, run_id, range(FLOOR_PORTS), FLOOR_POOL, concurrency);
    profile::print(n, concurrency, &one, &many);
    println!("load average at the end: {}", load_average());
}

fn header(bin: &Path, run_id: &str, n: usize, rounds: usize, concurrency: usize, health_interval_s: u64) {
    let age = std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| m.elapsed().ok())
        .map(|d| format!("{} s old", d.as_secs()))
        .unwrap_or_default();
    let compose = Command::new("docker-compose").args(["version", "--short"]).output().expect("docker-compose runs");
    let (_, version) = engine::engine("GET", "/version", None);
    println!(
        "compose_compare: N={n} tenants, {rounds} rounds, concurrency {concurrency}, engine healthcheck every \
         {health_interval_s} s (timeout {} s, start period {} s), run {run_id}",
        scenario::HEALTH_TIMEOUT_S,
        scenario::HEALTH_START_PERIOD_S
    );
    println!("  tenantd: {} ({age})", bin.display());
    println!(
        "  docker-compose {} (COMPOSE_PARALLEL_LIMIT {}), engine {} (API {})",
        String::from_utf8_lossy(&compose.stdout).trim(),
        std::env::var("COMPOSE_PARALLEL_LIMIT").unwrap_or_else(|_| "64, its default".into()),
        version["Version"].as_str().unwrap_or("?"),
        version["ApiVersion"].as_str().unwrap_or("?"),
    );
    println!("  load average at the start: {}", load_average());
}

fn range((from, to): (u16, u16)) -> std::ops::RangeInclusive<u16> {
    from..=to
}

fn load_average() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Removes every object of the run when dropped: tenantd's (both instances), docker-compose's
/// project, and everything labelled with the run (the floor's, and the compose file's).
struct Cleanup(Vec<String>);

impl Cleanup {
    fn new(run_id: &str) -> Cleanup {
        Cleanup(vec![
            format!("io.tenantd.instance={run_id}"),
            format!("io.tenantd.instance={run_id}nw"),
            format!("com.docker.compose.project={run_id}c"),
            format!("io.tenantd.bench={run_id}"),
        ])
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for label in &self.0 {
            engine::remove_labelled(label);
        }
    }
}
