//! Benchmark: how the cost of one no-op pass grows with the number of tenants, without an
//! engine. For 100, 1,000 and 10,000 stub specs: load + validate (`Desired::load`), observe (the
//! in-memory fake, holding exactly the state those specs converge to) and plan, each timed, and
//! the peak RSS and peak live heap of the pass.
//!
//! Every measurement is a fresh process (`--child pass DIR`): it seeds the fake by converging
//! once through the library's own apply path, then resets the peaks and runs one pass for its
//! memory, then, with the counting allocator switched off, one more for its time. Each plan must
//! hold nothing but `NoChange`. A peer in the same process reads the same files into
//! `serde_yaml::Value` and nothing more: the floor of any tool driven by YAML files.
//!
//! `SCALE_SIZES` (default `100,1000,10000`) sets the sizes, `SCALE_RUNS` (default 5) the
//! processes per size. Runs are interleaved across sizes, so load on the machine hits all alike.

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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantd::config::DaemonConfig;
use tenantd::plan::ChangeKind;
use tenantd::reconcile::{execute, plan_scoped, rolled_back, Desired, KnownState, PassOptions, WaitPolicy};
use tenantd::runtime::fake::FakeRuntime;
use tenantd::runtime::Runtime;
use tenantd::status::{ApplyFact, StatusStore};

use alloc::{heap_of, live, peak, reset_peak, stop_counting, trim};
use child::{run_child, Role};
use procfs::{proc_status, reset_hwm};
use stats::{env_num, med_range, median, verdict};

const INSTANCE: &str = "benchscale";
/// The requirement: a no-op pass over this many tenants …
const TARGET_TENANTS: usize = 1000;
/// … takes less than this.
const TARGET_MS: f64 = 100.0;

fn main() {
    match child::role() {
        Role::Idle => {}
        Role::Parent => parent(),
        Role::Child { mode, dir } => match mode.as_str() {
            "pass" => child::report(&child_pass(&dir)),
            other => panic!("unknown child mode {other}"),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: writes the specs once per size, runs the children, prints the tables.

fn sizes() -> Vec<usize> {
    let text = std::env::var("SCALE_SIZES").unwrap_or_else(|_| "100,1000,10000".to_string());
    text.split(',').map(|s| s.trim().parse().expect("SCALE_SIZES: numbers separated by commas")).collect()
}

fn parent() {
    let sizes = sizes();
    let runs: usize = env_num("SCALE_RUNS", 5);
    let root = tempfile::Builder::new().prefix("tenantd-bench-scale").tempdir().expect("temp dir");
    let dir_of = |n: usize| root.path().join(format!("n{n}"));
    for &n in &sizes {
        let dir = dir_of(n);
        specs::write_specs(&dir.join("tenants.d"), n);
        specs::write_config(&dir, &dir.join("tenants.d"), INSTANCE);
    }

    let mut results: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for run in 1..=runs {
        for &n in &sizes {
            eprintln!("plan_scale: run {run}/{runs}, {n} tenants…");
            results.entry(n).or_default().push(run_child("pass", &dir_of(n), &[]));
        }
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "plan_scale: one no-op pass (load + validate + observe + plan) over N stub specs, against the fake runtime \
         holding their converged state"
    );
    println!("  ({runs} runs per size, each a fresh process; median (min–max); {cores} cores; no engine involved)");
    if results.values().flatten().any(|r| r["hwm_reset"] == json!(false)) {
        println!("  note: the kernel refused to reset VmHWM, so peak RSS includes seeding the fake");
    }

    let ms = |k: &'static str| move |r: &Value| r[k].as_f64().unwrap();
    let mb = |k: &'static str| move |r: &Value| r[k].as_f64().unwrap() / 1e6;
    let total = |r: &Value| ms("load_ms")(r) + ms("observe_ms")(r) + ms("plan_ms")(r);
    let per_tenant = |k: &'static str| move |r: &Value| r[k].as_f64().unwrap() / r["tenants"].as_f64().unwrap();

    println!();
    print!("| per size |");
    sizes.iter().for_each(|n| print!(" {} tenants |", thousands(*n)));
    println!();
    println!("|---|{}", "---:|".repeat(sizes.len()));
    let row = |label: &str, d: usize, f: &dyn Fn(&Value) -> f64| {
        print!("| {label} |");
        for n in &sizes {
            let values: Vec<f64> = results[n].iter().map(f).collect();
            print!(" {} |", med_range(&values, d));
        }
        println!();
    };
    row("no-op pass: load + validate + observe + plan (ms)", 1, &total);
    row("… per 1,000 tenants (ms)", 1, &|r| total(r) / r["tenants"].as_f64().unwrap() * 1e3);
    row("… load + validate, `Desired::load` (ms)", 1, &ms("load_ms"));
    row("… observe the fake (ms)", 1, &ms("observe_ms"));
    row("… plan (ms)", 1, &ms("plan_ms"));
    row("first `Desired::load` in a process: schema compiled, heap counted (ms)", 1, &ms("first_load_ms"));
    row("peer: read + parse the same files into `serde_yaml::Value` (ms)", 1, &ms("yaml_ms"));
    row("ratio: tenantd load + validate + plan / peer", 1, &|r| {
        (ms("load_ms")(r) + ms("plan_ms")(r)) / ms("yaml_ms")(r)
    });
    row("peak RSS during the pass, VmHWM (MB)", 1, &mb("hwm"));
    row("… RSS before the pass (MB)", 1, &mb("rss_start"));
    row("peak live heap during the pass (MB)", 1, &mb("heap_peak"));
    row("… of which the fake's world, the engine's state (MB)", 1, &mb("fake_world"));
    row("… of which the pass, above what was live before it (MB)", 1, &mb("pass_heap_peak"));
    row("pass peak heap per tenant (bytes)", 0, &per_tenant("pass_heap_peak"));
    row("rendered specs kept (`Desired`) per tenant (bytes)", 0, &per_tenant("desired_heap"));
    row("peer: parsed files kept, per tenant (bytes)", 0, &per_tenant("yaml_heap"));

    println!();
    print!("| growth, median / median (linear = the size ratio) |");
    let steps: Vec<(usize, usize)> = sizes.windows(2).map(|w| (w[0], w[1])).collect();
    steps.iter().for_each(|(a, b)| print!(" {} / {} |", thousands(*b), thousands(*a)));
    println!();
    println!("|---|{}", "---:|".repeat(steps.len()));
    let med = |n: usize, f: &dyn Fn(&Value) -> f64| median(&mut results[&n].iter().map(f).collect::<Vec<_>>());
    let growth = |label: &str, f: &dyn Fn(&Value) -> f64| {
        print!("| {label} |");
        steps.iter().for_each(|(a, b)| print!(" {:.1}× |", med(*b, f) / med(*a, f)));
        println!();
    };
    print!("| tenants |");
    steps.iter().for_each(|(a, b)| print!(" {:.1}× |", *b as f64 / *a as f64));
    println!();
    growth("time: no-op pass", &total);
    growth("time: load + validate", &ms("load_ms"));
    growth("time: observe", &ms("observe_ms"));
    growth("time: plan", &ms("plan_ms"));
    growth("time: peer YAML parse", &ms("yaml_ms"));
    growth("memory: peak RSS", &mb("hwm"));
    growth("memory: peak live heap of the pass", &mb("pass_heap_peak"));

    println!();
    match results.get(&TARGET_TENANTS) {
        Some(rs) => {
            let mut totals: Vec<f64> = rs.iter().map(total).collect();
            let m = median(&mut totals);
            println!(
                "target: no-op plan (load + validate + observe + plan) of {} tenants < {TARGET_MS} ms: {} \
                 (median {m:.1} ms, max {:.1} ms)",
                thousands(TARGET_TENANTS),
                verdict(m < TARGET_MS),
                totals.last().copied().unwrap_or(f64::NAN)
            );
        }
        None => println!("target: {} tenants not among SCALE_SIZES: not measured", thousands(TARGET_TENANTS)),
    }
}

/// `10000` → `10,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The child: seed the fake, then measure one no-op pass and the peer.

fn child_pass(dir: &Path) -> Value {
    let cfg = DaemonConfig::load(&dir.join("tenantd.toml"), None).expect("config");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let fake = FakeRuntime::new();
    let (tenants, first_load_ms) = seed(&cfg, &rt, &fake);
    let fake_world = fake.with_world(|w| heap_of(|| w.clone()));

    // Memory: one pass with VmHWM and the heap peak reset after seeding.
    trim();
    let hwm_reset = reset_hwm();
    let (rss_start, _, _) = proc_status();
    let heap_start = reset_peak();
    let desired_heap = pass(&cfg, &rt, &fake, tenants).desired_heap;
    let heap_peak = peak();
    let (_, hwm, _) = proc_status();
    trim();
    let yaml_start = reset_peak();
    let documents = bare_yaml(&cfg.tenants_dir);
    let yaml_heap = live() - yaml_start;
    assert_eq!(documents.len(), tenants);
    drop(documents);

    // Time: the same pass and peer again, without the allocator's counter updates.
    stop_counting();
    let timed = pass(&cfg, &rt, &fake, tenants);
    let t = Instant::now();
    let documents = bare_yaml(&cfg.tenants_dir);
    let yaml_ms = ms_since(t);
    drop(documents);

    json!({
        "tenants": tenants,
        "first_load_ms": first_load_ms,
        "load_ms": timed.load_ms, "observe_ms": timed.observe_ms, "plan_ms": timed.plan_ms, "yaml_ms": yaml_ms,
        "hwm_reset": hwm_reset, "rss_start": rss_start, "hwm": hwm,
        "heap_start": heap_start, "heap_peak": heap_peak, "pass_heap_peak": heap_peak - heap_start,
        "desired_heap": desired_heap, "fake_world": fake_world, "yaml_heap": yaml_heap,
    })
}

/// Converges the fake onto the specs in the configured directory: the first pass of a fresh
/// process (its load compiles the schema), applied as `tenantd apply` would, without waiting
/// for health. Returns the number of tenants and how long that first load took (ms).
fn seed(cfg: &DaemonConfig, rt: &tokio::runtime::Runtime, fake: &FakeRuntime) -> (usize, f64) {
    let opts = PassOptions::default();
    let t = Instant::now();
    let desired = Desired::load(cfg, opts).expect("specs load");
    let first_load_ms = ms_since(t);
    let tenants = desired.tenants.len();
    assert!(tenants > 0 && desired.invalid_files.is_empty(), "every spec is valid: {:?}", desired.invalid);
    let observed = rt.block_on(fake.observe(&desired.images(), &desired.names())).expect("observe");
    let (_, first) = plan_scoped(
        cfg,
        &desired,
        &observed,
        KnownState { rolled_back: &BTreeMap::new(), endpoints: &BTreeMap::new() },
        opts,
        None,
    )
    .expect("first plan");
    assert_eq!(first.count(ChangeKind::Create), tenants, "the fake starts empty");
    let wait = WaitPolicy { enabled: false, max: Duration::ZERO };
    let outcomes = rt.block_on(execute(fake, &first, cfg.concurrency, &cfg.port_range, wait, None));
    assert!(outcomes.values().all(|o| matches!(o.fact, ApplyFact::Applied)), "seeding the fake failed");
    fake.clear_calls();
    (tenants, first_load_ms)
}

/// One no-op pass, as a preview runs it, its parts timed.
struct Pass {
    load_ms: f64,
    observe_ms: f64,
    plan_ms: f64,
    /// Heap bytes live after the load that were not before it: the rendered specs.
    desired_heap: usize,
}

fn pass(cfg: &DaemonConfig, rt: &tokio::runtime::Runtime, fake: &FakeRuntime, tenants: usize) -> Pass {
    let opts = PassOptions::default();
    let before = live();
    let t = Instant::now();
    let desired = Desired::load(cfg, opts).expect("specs load");
    let load_ms = ms_since(t);
    let desired_heap = live().saturating_sub(before);
    let t = Instant::now();
    let world = rt.block_on(fake.observe(&desired.images(), &desired.names())).expect("observe");
    let observe_ms = ms_since(t);
    let t = Instant::now();
    let rolled_back = rolled_back(&StatusStore::new(cfg.status_dir()));
    let (_, plan) = plan_scoped(
        cfg,
        &desired,
        &world,
        KnownState { rolled_back: &rolled_back, endpoints: &BTreeMap::new() },
        opts,
        None,
    )
    .expect("plan");
    let plan_ms = ms_since(t);

    // A bench that measures the wrong thing is worse than none: this must be the no-op pass.
    assert_eq!(desired.tenants.len(), tenants);
    assert_eq!(plan.tenants.len(), tenants);
    if let Some(t) = plan.tenants.iter().find(|t| t.change != ChangeKind::NoChange || !t.steps.is_empty()) {
        panic!("not a no-op plan: {} gets {:?}: {:?}", t.tenant, t.change, t.reasons);
    }
    Pass { load_ms, observe_ms, plan_ms, desired_heap }
}

/// Every `*.yaml` file in `dir`, in name order, parsed into a YAML value and nothing more.
fn bare_yaml(dir: &Path) -> Vec<serde_yaml::Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tenants dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| serde_yaml::from_str(&std::fs::read_to_string(p).expect("spec file")).expect("YAML")).collect()
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
