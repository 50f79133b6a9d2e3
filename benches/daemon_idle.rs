//! Benchmark: `tenantd run` holding 1,000 tenants on the in-memory fake runtime. Measures the
//! first convergence, then resident memory and CPU over an idle window that includes a periodic
//! resync, and the cost of one resync pass.
//!
//! Every measured process is this binary again (`--child <mode>`), so one run's allocations cannot
//! inflate the next run's RSS. Peers measured in the same run: the bare process with its tokio
//! runtime, and a process that only loads the 1,000 specs (no daemon). A counting allocator gives
//! live heap bytes, so RSS can be split into what is live and what the allocator keeps.
//!
//! `IDLE_SECS` (default 60) sets the window, `IDLE_RUNS` (default 3) the number of daemon
//! processes.

#[path = "support/alloc.rs"]
mod alloc;
#[path = "support/child.rs"]
mod child;
#[path = "support/procfs.rs"]
mod procfs;
#[path = "support/specs.rs"]
mod specs;
#[path = "support/stats.rs"]
mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantd::config::DaemonConfig;
use tenantd::daemon::notify::Notifier;
use tenantd::daemon::{Signal, Signals};
use tenantd::reconcile::{
    plan_scoped, rolled_back_of, run_pass, Desired, KnownState, PassMemory, PassMode, PassOptions, PassScope,
};
use tenantd::runtime::fake::{Call, FakeRuntime};
use tenantd::runtime::{ContainerState, Runtime};
use tenantd::spec::TenantName;
use tenantd::status::StatusStore;

use alloc::{heap_of, live, peak, reset_peak, trim};
use child::{run_child, Role};
use procfs::{clk_tck, cpu_ticks, proc_status, rss_file};
use specs::tenant_name;
use stats::{env_num, med_range, median, row, verdict};

/// Tenants in the directory; `IDLE_TENANTS` changes it for a quick check of the bench itself.
fn tenants() -> usize {
    env_num("IDLE_TENANTS", 1000)
}
const TARGET_RSS_MB: f64 = 30.0;
const INSTANCE: &str = "benchidle";

fn main() {
    // As the binary does first thing.
    tenantd::daemon::memory::one_malloc_arena();
    match child::role() {
        Role::Idle => {}
        Role::Parent => parent(),
        Role::Child { mode, dir } => {
            let out = match mode.as_str() {
                "baseline" => child_baseline(),
                "specs" => child_specs(&dir),
                "daemon" => child_daemon(&dir),
                other => panic!("unknown child mode {other}"),
            };
            child::report(&out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: writes the specs, runs the children, prints the table.

fn parent() {
    let idle_secs: u64 = env_num("IDLE_SECS", 60);
    let runs: usize = env_num("IDLE_RUNS", 3);
    let clk_tck: f64 = clk_tck();
    let dir = tempfile::Builder::new().prefix("tenantd-bench-idle").tempdir().expect("temp dir");
    specs::write_specs(&dir.path().join("tenants.d"), tenants());

    println!("daemon_idle: {} tenants on the fake runtime, idle window {idle_secs} s, {runs} daemon runs", tenants());
    println!("  (each run and each peer is a fresh process; CLK_TCK = {clk_tck})");
    if idle_secs < 60 {
        println!("  note: the window is shorter than resync_interval (60 s), so it may hold no periodic resync");
    }

    let baseline = run_child("baseline", dir.path(), &[]);
    let specs = run_child("specs", dir.path(), &[]);
    let daemon = |i: usize, vars: &[(&str, String)]| {
        let sub = dir.path().join(format!("run{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        write_config(&sub, &dir.path().join("tenants.d"));
        let mut vars = vars.to_vec();
        vars.push(("IDLE_SECS", idle_secs.to_string()));
        run_child("daemon", &sub, &vars)
    };
    let mut daemons = Vec::new();
    for i in 0..runs {
        eprintln!("daemon_idle: run {}/{runs} ({idle_secs} s window after convergence)…", i + 1);
        daemons.push(daemon(i, &[]));
    }

    let mb = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN) / 1e6;
    let col = |f: &dyn Fn(&Value) -> f64| -> Vec<f64> { daemons.iter().map(f).collect() };
    let cpu_pct = |d: &Value| d["cpu_ticks"].as_f64().unwrap() / clk_tck / d["window_s"].as_f64().unwrap() * 100.0;
    let busiest = |d: &Value| {
        d["cpu_ticks_per_s"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).fold(0.0, f64::max) / clk_tck
            * 100.0
    };
    // Per-second CPU (% of one core), split by what fell in each second: a full pass (an observe
    // call), a stats round (stats calls), or neither.
    let seconds = |d: &Value, kind: Second| -> Vec<f64> {
        let ticks = d["cpu_ticks_per_s"].as_array().unwrap();
        let calls = |key: &str, j: usize| d[key].as_array().unwrap().get(j).and_then(Value::as_u64).unwrap_or(0);
        // Work may spill into the seconds either side of the one holding its calls (a pass loads
        // the specs before observing and plans after).
        let near = |key: &str, i: usize| (i.saturating_sub(1)..=i + 1).any(|j| calls(key, j) > 0);
        ticks
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let (pass, stats) = (near("observe_per_s", *i), near("stats_per_s", *i));
                match kind {
                    Second::Pass => pass,
                    Second::Stats => stats && !pass,
                    Second::Quiet => !pass && !stats,
                }
            })
            .map(|(_, t)| t.as_f64().unwrap() / clk_tck * 100.0)
            .collect()
    };
    let quiet = |d: &Value| median(&mut seconds(d, Second::Quiet));
    // Core-seconds of the seconds around one kind of work, beyond the quiet rate, per occurrence.
    let cost = |d: &Value, kind: Second, key: &str| {
        let around = seconds(d, kind);
        let per_s = d[key].as_array().unwrap();
        // Occurrences: runs of consecutive seconds holding calls.
        let n = (0..per_s.len())
            .filter(|&i| per_s[i].as_u64().unwrap_or(0) > 0 && (i == 0 || per_s[i - 1].as_u64().unwrap_or(0) == 0))
            .count();
        (around.iter().sum::<f64>() - quiet(d) * around.len() as f64) / 100.0 / n as f64
    };
    let pass_cpu_s = |d: &Value| cost(d, Second::Pass, "observe_per_s");
    let stats_cpu_s = |d: &Value| cost(d, Second::Stats, "stats_per_s");

    println!();
    println!("| daemon, {} tenants ({runs} runs) | median | min–max |", tenants());
    println!("|---|---:|---:|");
    row("first convergence, `run` → all running (s)", &col(&|d| d["converge_s"].as_f64().unwrap()), 2);
    row("… → all status files written (s)", &col(&|d| d["status_files_s"].as_f64().unwrap()), 2);
    row(
        "… between the two: controller passes (observe calls)",
        &col(&|d| d["catch_up_observe_calls"].as_f64().unwrap()),
        0,
    );
    row("… between the two: CPU (core-seconds)", &col(&|d| d["catch_up_cpu_ticks"].as_f64().unwrap() / clk_tck), 1);
    row("… → quiet (3 s without a pass): the window starts (s)", &col(&|d| d["settled_s"].as_f64().unwrap()), 2);
    row("RSS at window start (MB)", &col(&|d| mb(d, "rss_start")), 1);
    row("RSS at window end (MB)", &col(&|d| mb(d, "rss_end")), 1);
    row("peak RSS, VmHWM (MB)", &col(&|d| mb(d, "hwm_end")), 1);
    row("CPU over the window (% of one core)", &col(&cpu_pct), 2);
    row("CPU, median second without a pass or stats round (% of one core)", &col(&quiet), 1);
    row("CPU, busiest second (% of one core)", &col(&busiest), 1);
    row("full passes (observe calls) in the window", &col(&|d| d["observe_calls"].as_f64().unwrap()), 0);
    row("CPU of one full pass in the window (core-seconds, over the quiet rate)", &col(&pass_cpu_s), 2);
    row("CPU of one stats round, every 15 s (core-seconds, over the quiet rate)", &col(&stats_cpu_s), 2);
    row("resync pass, load + observe + plan called directly (ms)", &col(&|d| d["pass_ms_median"].as_f64().unwrap()), 0);
    row("… of it, reading the specs (`Desired::load`) (ms)", &col(&|d| d["load_ms"].as_f64().unwrap()), 1);
    row(
        "… … as the daemon does, no file changed since its last read (`Desired::reload`) (ms)",
        &col(&|d| d["reload_ms"].as_f64().unwrap()),
        1,
    );
    row("… of it, observing the fake (ms)", &col(&|d| d["observe_ms"].as_f64().unwrap()), 1);
    row("… of it, planning every tenant (ms)", &col(&|d| d["plan_ms"].as_f64().unwrap()), 1);
    row(
        "targeted pass (an engine event): observe one tenant, plan it (ms)",
        &col(&|d| d["targeted_ms"].as_f64().unwrap()),
        2,
    );
    row("threads", &col(&|d| d["threads"].as_f64().unwrap()), 0);

    println!();
    println!("| where the end-of-window RSS goes (MB) | median | min–max |");
    println!("|---|---:|---:|");
    row("live heap, whole process", &col(&|d| mb(d, "heap_end")), 1);
    row("… of which the fake runtime's world (the engine's state, not tenantd's)", &col(&|d| mb(d, "fake_world")), 1);
    row("… of which the daemon (live heap − fake world)", &col(&|d| mb(d, "heap_end") - mb(d, "fake_world")), 1);
    row("peak live heap", &col(&|d| mb(d, "heap_peak")), 1);
    row("RSS − live heap (code, stacks, memory malloc keeps)", &col(&|d| mb(d, "rss_end") - mb(d, "heap_end")), 1);
    row("RSS after malloc_trim(0)", &col(&|d| mb(d, "rss_trimmed")), 1);
    row("file-backed RSS (the binary's code and read-only data)", &col(&|d| mb(d, "rss_file_end")), 1);

    let spec_rss = mb(&specs, "rss");
    println!();
    println!("| peers in the same run | value |");
    println!("|---|---:|");
    println!("| bare process + tokio runtime: RSS (MB) | {:.1} |", mb(&baseline, "rss"));
    println!("| … file-backed RSS (MB) | {:.1} |", mb(&baseline, "rss_file"));
    println!("| the specs loaded (`Desired::load`), no daemon: RSS (MB) | {spec_rss:.1} |");
    println!("| … live heap of the loaded specs (MB) | {:.1} |", mb(&specs, "desired_heap"));
    println!("| … the parsed files (`SpecSet`), not kept once rendered (MB) | {:.1} |", mb(&specs, "parsed_heap"));
    println!("| … … the rendered tenants (`DesiredTenant`s) (MB) | {:.1} |", mb(&specs, "rendered_heap"));
    println!(
        "| … … … their `applied` JSON text (MB) / their per-field hash maps (MB) | {:.1} / {:.1} |",
        mb(&specs, "applied_bytes"),
        mb(&specs, "field_hashes_heap")
    );
    println!("| … peak live heap while loading (MB) | {:.1} |", mb(&specs, "load_peak_heap"));
    println!("| … file-backed RSS (code and read-only data) (MB) | {:.1} |", mb(&specs, "rss_file"));
    println!("| … peak RSS while loading, VmHWM (MB) | {:.1} |", mb(&specs, "hwm"));
    let loads: Vec<f64> = specs["load_ms"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    println!("| … one `Desired::load` of all specs (ms), median (min–max) of 5 | {} |", med_range(&loads, 0));

    let mut rss_end = col(&|d| mb(d, "rss_end"));
    let mut cpu = col(&cpu_pct);
    let rss_med = median(&mut rss_end);
    println!();
    println!("ratio: daemon RSS at window end / specs-only peer RSS = {:.2}", rss_med / spec_rss);
    println!(
        "target: RSS < {TARGET_RSS_MB} MB: {} (median {rss_med:.1} MB); CPU negligible: median {:.2} % of one core",
        verdict(rss_end.iter().all(|r| *r < TARGET_RSS_MB)),
        median(&mut cpu)
    );
}

/// What happened in one second of the window.
#[derive(Clone, Copy)]
enum Second {
    Pass,
    Stats,
    Quiet,
}

/// The config of one run: default `[daemon]` settings (resync 60 s, stats 15 s).
fn write_config(dir: &Path, tenants: &Path) {
    specs::write_config(dir, tenants, INSTANCE);
}

// ---------------------------------------------------------------------------------------------
// The children.

fn tokio_runtime() -> tokio::runtime::Runtime {
    // As `tenantd run` builds it.
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

fn child_baseline() -> Value {
    let rt = tokio_runtime();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
    let (rss, hwm, threads) = proc_status();
    json!({ "rss": rss, "hwm": hwm, "threads": threads, "heap": live(), "rss_file": rss_file() })
}

fn child_specs(dir: &Path) -> Value {
    let _rt = tokio_runtime();
    let sub = dir.join("specs-peer");
    std::fs::create_dir_all(&sub).unwrap();
    write_config(&sub, &dir.join("tenants.d"));
    let cfg = DaemonConfig::load(&sub.join("tenantd.toml"), None).expect("config");
    let before = reset_peak();
    let desired = Desired::load(&cfg, PassOptions::default()).expect("specs load");
    assert_eq!(desired.tenants.len(), tenants(), "every spec is valid: {:?}", desired.invalid);
    let desired_heap = live() - before;
    let load_peak_heap = peak() - before;
    let (rss, hwm, threads) = proc_status();
    let rss_file_loaded = rss_file();
    let mut load_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let again = Desired::load(&cfg, PassOptions::default()).expect("specs load");
        load_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(again);
    }
    // What the loaded specs are made of: the parsed files, and what is rendered from them.
    let parsed_heap = heap_of(|| tenantd::spec::load_dir(&cfg.tenants_dir).expect("specs load"));
    let rendered_heap = heap_of(|| desired.tenants.values().map(|d| (**d).clone()).collect::<Vec<_>>());
    let containers = || desired.tenants.values().flat_map(|d| d.containers.iter());
    let applied_bytes: usize = containers().map(|c| c.applied.capacity()).sum();
    let field_hashes_heap = heap_of(|| containers().map(|c| c.field_hashes.clone()).collect::<Vec<_>>());
    json!({
        "rss": rss, "hwm": hwm, "threads": threads, "desired_heap": desired_heap, "load_ms": load_ms, "load_peak_heap": load_peak_heap, "rss_file": rss_file_loaded,
        "parsed_heap": parsed_heap, "rendered_heap": rendered_heap,
        "applied_bytes": applied_bytes, "field_hashes_heap": field_hashes_heap,
    })
}

fn child_daemon(dir: &Path) -> Value {
    let idle = Duration::from_secs(env_num("IDLE_SECS", 60));
    let config = dir.join("tenantd.toml");
    let cfg = DaemonConfig::load(&config, None).expect("config");
    let status_dir = cfg.status_dir();
    let rt = tokio_runtime();
    let fake = Arc::new(FakeRuntime::new());
    let (stop_tx, signals) = Signals::channel();

    let started = Instant::now();
    let daemon = {
        let (cfg, runtime) = (cfg.clone(), fake.clone() as Arc<dyn Runtime>);
        rt.spawn(async move {
            let load = |p: &Path| Ok(DaemonConfig::load(p, None)?);
            let notifier = Arc::new(Notifier::disabled());
            tenantd::daemon::run(cfg, runtime, load, PassOptions::default(), signals, notifier).await
        })
    };

    let running = || {
        fake.with_world(|w| {
            w.tenants.values().filter(|t| t.containers.iter().any(|c| c.state == ContainerState::Running)).count()
        })
    };
    let deadline_s = 3600;
    let deadline = started + Duration::from_secs(deadline_s);
    while running() < tenants() {
        assert!(Instant::now() < deadline, "no convergence of {} tenants within {deadline_s} s", tenants());
        assert!(!daemon.is_finished(), "the daemon stopped before converging");
        std::thread::sleep(Duration::from_millis(20));
    }
    let converge_s = started.elapsed().as_secs_f64();
    let converged_cpu = cpu_ticks();
    fake.clear_calls();
    let status_files = || std::fs::read_dir(&status_dir).map(|d| d.filter(|e| e.is_ok()).count()).unwrap_or(0);
    while status_files() < tenants() {
        assert!(Instant::now() < deadline, "status files not written within {deadline_s} s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status_files_s = started.elapsed().as_secs_f64();
    let catch_up_cpu_ticks = cpu_ticks() - converged_cpu;
    let catch_up_observe_calls = fake.calls().iter().filter(|c| **c == Call::Observe).count();

    // Passes that were already due when the last status file appeared (a periodic resync that
    // fell due during the catch-up, a file trigger from reading the fresh specs) still belong to
    // the start-up: the window starts once three seconds in a row saw no pass.
    let mut quiet_seconds = 0;
    while quiet_seconds < 3 {
        assert!(Instant::now() < deadline, "the daemon never went quiet");
        fake.clear_calls();
        std::thread::sleep(Duration::from_secs(1));
        let passes = fake.calls().iter().filter(|c| **c == Call::Observe).count();
        quiet_seconds = if passes == 0 { quiet_seconds + 1 } else { 0 };
    }
    let settled_s = started.elapsed().as_secs_f64();

    // The fake records every call; clearing it keeps its log out of the measurement.
    fake.clear_calls();
    let (rss_start, hwm_start, _) = proc_status();
    let heap_start = live();
    let cpu_start = cpu_ticks();
    let window_start = Instant::now();
    let mut per_second = Vec::new();
    let mut observe_per_s = Vec::new();
    let mut stats_per_s = Vec::new();
    let mut last = cpu_start;
    while window_start.elapsed() < idle {
        let next = window_start + Duration::from_secs(per_second.len() as u64 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let now = cpu_ticks();
        per_second.push(now - last);
        last = now;
        let calls = fake.calls();
        fake.clear_calls();
        observe_per_s.push(calls.iter().filter(|c| **c == Call::Observe).count());
        stats_per_s.push(calls.iter().filter(|c| matches!(c, Call::Stats(_))).count());
    }
    let window_s = window_start.elapsed().as_secs_f64();
    let cpu = cpu_ticks() - cpu_start;
    let (rss_end, hwm_end, threads) = proc_status();
    let rss_file_end = rss_file();
    let heap_end = live();
    let heap_peak = peak();
    assert!(!daemon.is_finished(), "the daemon stopped during the window");

    // Roughly what the fake's own world holds: the size of one copy of it.
    let fake_world = fake.with_world(|w| heap_of(|| w.clone()));

    trim();
    let (rss_trimmed, _, _) = proc_status();

    // One resync pass does load → observe → plan on the whole instance; time those calls.
    let mut pass_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut memory = PassMemory::default();
        let pass = run_pass(&cfg, fake.as_ref(), &mut memory, PassScope::default(), PassMode::Preview);
        rt.block_on(pass).expect("pass");
        pass_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(memory.desired.map(|d| d.tenants.len()), Some(tenants()));
    }

    // A full pass split into its parts (read the specs, observe, plan the whole instance), and
    // what an engine event costs: observe one tenant and plan it against the whole instance.
    let statuses = StatusStore::new(cfg.status_dir()).read_all().expect("status files");
    let rb = rolled_back_of(&statuses);
    let one: BTreeSet<TenantName> = [tenant_name(tenants() / 2)].into();
    let (mut load_ms, mut observe_ms, mut plan_ms, mut targeted_ms) = (vec![], vec![], vec![], vec![]);
    let mut reload_ms = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        let desired = Desired::load(&cfg, PassOptions::default()).expect("specs load");
        load_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let again = Desired::reload(&cfg, PassOptions::default(), &desired).expect("specs reload");
        reload_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(again.tenants.len(), tenants());
        drop(again);
        let t = Instant::now();
        let world = rt.block_on(fake.observe(&desired.images(), &desired.names())).expect("observe");
        observe_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let (_, p) = plan_scoped(
            &cfg,
            &desired,
            &world,
            KnownState { rolled_back: &rb, endpoints: &BTreeMap::new() },
            PassOptions::default(),
            None,
        )
        .expect("plan");
        plan_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(p.tenants.len(), tenants());
        let t = Instant::now();
        let name = one.first().expect("one tenant");
        let _ = rt.block_on(fake.observe_tenant(name, &[], &[])).expect("observe one");
        let (_, p) = plan_scoped(
            &cfg,
            &desired,
            &world,
            KnownState { rolled_back: &rb, endpoints: &BTreeMap::new() },
            PassOptions::default(),
            Some(&one),
        )
        .expect("plan one");
        targeted_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(p.tenants.len(), 1);
    }

    let _ = stop_tx.send(Signal::Terminate);
    rt.block_on(daemon).expect("daemon task").expect("daemon run");
    json!({
        "converge_s": converge_s,
        "status_files_s": status_files_s,
        "catch_up_cpu_ticks": catch_up_cpu_ticks,
        "catch_up_observe_calls": catch_up_observe_calls,
        "settled_s": settled_s,
        "rss_start": rss_start, "hwm_start": hwm_start, "rss_end": rss_end, "hwm_end": hwm_end,
        "rss_trimmed": rss_trimmed, "rss_file_end": rss_file_end,
        "heap_start": heap_start, "heap_end": heap_end, "heap_peak": heap_peak, "fake_world": fake_world,
        "threads": threads,
        "window_s": window_s, "cpu_ticks": cpu, "cpu_ticks_per_s": per_second,
        "observe_calls": observe_per_s.iter().sum::<usize>(),
        "observe_per_s": observe_per_s,
        "stats_per_s": stats_per_s,
        "pass_ms_median": median(&mut pass_ms),
        "load_ms": median(&mut load_ms),
        "reload_ms": median(&mut reload_ms),
        "observe_ms": median(&mut observe_ms),
        "plan_ms": median(&mut plan_ms),
        "targeted_ms": median(&mut targeted_ms),
    })
}
