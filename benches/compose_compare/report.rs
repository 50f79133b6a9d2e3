//! The report: one table per phase (medians and ranges of every side), ratios of medians, the
//! verdicts on the targets, and where the sides' container settings differ.

use std::collections::BTreeMap;

use crate::settings::{self, Settings};
use crate::side::{Phase, Sample, PHASES};
use crate::stats::{med_range, spread, verdict};

/// The sides, in the order of the report's rows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Tenantd,
    NoWait,
    Compose,
    Floor,
}

impl Who {
    pub const ALL: [Who; 4] = [Who::Tenantd, Who::NoWait, Who::Compose, Who::Floor];
}

/// Everything measured of one side.
pub struct Measured {
    pub who: Who,
    pub label: &'static str,
    /// What it runs in each phase, as row labels.
    pub commands: BTreeMap<Phase, String>,
    pub samples: BTreeMap<Phase, Vec<Sample>>,
    /// The first tenant's container, read after the first cold start.
    pub settings: Option<Settings>,
}

/// The targets, as fractions of docker-compose's, the floor's, or in seconds.
const COLD_OVER_COMPOSE: f64 = 0.6;
const COLD_OVER_FLOOR: f64 = 1.1;
const NOOP_OVER_COMPOSE: f64 = 0.1;
const CHANGE_OVER_COMPOSE: f64 = 0.5;
const IN_PLACE_S: f64 = 0.2;
const TEARDOWN_OVER_COMPOSE: f64 = 0.6;

pub fn print(all: &[Measured], n: usize, rounds: usize) {
    let side = |w: Who| all.iter().find(|m| m.who == w).expect("every side is measured");
    for phase in PHASES {
        table(all, phase, n, rounds);
        ratios(side(Who::Tenantd), side(Who::NoWait), side(Who::Compose), side(Who::Floor), phase);
    }
    println!();
    targets(side(Who::Tenantd), side(Who::Compose), side(Who::Floor));
    println!();
    let tenantd = side(Who::Tenantd).settings.as_ref().expect("tenantd's settings were read");
    for m in all.iter().filter(|m| m.who != Who::Tenantd) {
        let diff = settings::differences(tenantd, m.settings.as_ref().expect("settings were read"));
        if diff.is_empty() {
            println!("container settings of {}: the same as tenantd's", m.label);
        } else {
            println!("container settings of {} that differ (tenantd's vs its own):", m.label);
            diff.iter().for_each(|d| println!("  {d}"));
        }
    }
}

fn table(all: &[Measured], phase: Phase, n: usize, rounds: usize) {
    let (title, ready, edit) = match phase {
        Phase::Cold => (format!("cold: {n} tenants from nothing"), format!("all {n} answer /health"), false),
        Phase::NoOp => ("no-op: the same state again".to_string(), format!("all {n} answer /health"), false),
        Phase::Change => {
            ("one change: one tenant's env value".to_string(), "its new container answers".to_string(), true)
        }
        Phase::InPlace => {
            ("in place: one tenant's memory limit".to_string(), "it answers with the new limit".to_string(), true)
        }
        Phase::Teardown => ("teardown: every tenant removed".to_string(), "nothing of it left".to_string(), false),
    };
    println!();
    if edit {
        println!("| {title} ({rounds} rounds), s | command returns | {ready} | same container id |");
        println!("|---|---:|---:|---:|");
    } else {
        println!("| {title} ({rounds} rounds), s | command returns | {ready} |");
        println!("|---|---:|---:|");
    }
    for m in all {
        let Some(samples) = m.samples.get(&phase).filter(|s| !s.is_empty()) else {
            continue;
        };
        let command: Vec<f64> = samples.iter().map(|s| s.command_s).collect();
        let ready: Vec<f64> = samples.iter().map(|s| s.ready_s).collect();
        let (command, ready) = (med_range(&command, 2), med_range(&ready, 2));
        if edit {
            let same = samples.iter().filter(|s| s.same_id == Some(true)).count();
            println!("| {} | {command} | {ready} | {same} of {} |", m.commands[&phase], samples.len());
        } else {
            println!("| {} | {command} | {ready} |", m.commands[&phase]);
        }
    }
}

fn ratios(tenantd: &Measured, no_wait: &Measured, compose: &Measured, floor: &Measured, phase: Phase) {
    let pair = |a: &Measured, b: &Measured| -> Option<String> {
        let r = |f: fn(&Sample) -> f64| Some(median(a, phase, f)? / median(b, phase, f)?);
        Some(format!("{:.2} returns, {:.2} ready", r(|s| s.command_s)?, r(|s| s.ready_s)?))
    };
    let mut parts = Vec::new();
    for (name, a, b) in [
        ("tenantd/compose", tenantd, compose),
        ("tenantd/floor", tenantd, floor),
        ("tenantd --no-wait/compose", no_wait, compose),
        ("tenantd --no-wait/floor", no_wait, floor),
    ] {
        if let Some(p) = pair(a, b) {
            parts.push(format!("{name} {p}"));
        }
    }
    println!("ratios of medians: {}", parts.join("; "));
}

fn targets(tenantd: &Measured, compose: &Measured, floor: &Measured) {
    let ready = |m: &Measured, p: Phase| median(m, p, |s| s.ready_s).unwrap_or(f64::NAN);
    let command = |m: &Measured, p: Phase| median(m, p, |s| s.command_s).unwrap_or(f64::NAN);
    let against = |what: &str, t: f64, other: f64, other_name: &str, max: f64| {
        let r = t / other;
        println!("  {what} ≤ {max} × {other_name}: {} ({t:.2} s vs {other:.2} s: {r:.2})", verdict(r <= max));
    };
    println!("targets (medians of `tenantd apply`; cold, change and in place until the containers answer, no-op until the command returns, teardown until nothing is left):");
    against("cold", ready(tenantd, Phase::Cold), ready(compose, Phase::Cold), "compose", COLD_OVER_COMPOSE);
    against("cold", ready(tenantd, Phase::Cold), ready(floor, Phase::Cold), "floor", COLD_OVER_FLOOR);
    against("no-op", command(tenantd, Phase::NoOp), command(compose, Phase::NoOp), "compose", NOOP_OVER_COMPOSE);
    against("one change", ready(tenantd, Phase::Change), ready(compose, Phase::Change), "compose", CHANGE_OVER_COMPOSE);
    let in_place = ready(tenantd, Phase::InPlace);
    let (same, rounds) = same_id(tenantd, Phase::InPlace);
    println!(
        "  in-place memory change ≤ {IN_PLACE_S} s with the same container id: {} ({in_place:.2} s; same id in {same} of {rounds} rounds)",
        verdict(in_place <= IN_PLACE_S && same == rounds && rounds > 0)
    );
    against(
        "teardown",
        ready(tenantd, Phase::Teardown),
        ready(compose, Phase::Teardown),
        "compose",
        TEARDOWN_OVER_COMPOSE,
    );
    let floor_over_compose: Vec<String> =
        [(Phase::Cold, "cold"), (Phase::Change, "one change"), (Phase::Teardown, "teardown")]
            .into_iter()
            .map(|(p, name)| format!("{name} {:.2}", ready(floor, p) / ready(compose, p)))
            .collect();
    println!(
        "the floor over docker-compose, which bounds what any tool making the same engine calls can reach: {}",
        floor_over_compose.join(", ")
    );
    let (same, rounds) = same_id(compose, Phase::InPlace);
    println!(
        "docker-compose on the memory change: same container id in {same} of {rounds} rounds ({})",
        if same == 0 { "it recreates the container" } else { "it updated in place" }
    );
}

fn median(m: &Measured, phase: Phase, f: fn(&Sample) -> f64) -> Option<f64> {
    let v: Vec<f64> = m.samples.get(&phase)?.iter().map(f).collect();
    (!v.is_empty()).then(|| spread(&v).0)
}

fn same_id(m: &Measured, phase: Phase) -> (usize, usize) {
    let samples = m.samples.get(&phase).map(Vec::as_slice).unwrap_or_default();
    (samples.iter().filter(|s| s.same_id == Some(true)).count(), samples.len())
}
