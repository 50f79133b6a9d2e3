//! The report: one markdown table per scenario, the sides as rows (each once for both clients
//! together and once per client), medians over the rounds, then what each side did.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::scenario::{Outcome, CAP, TAIL};
use crate::side::{Scenario, SCENARIOS};
use crate::stats::spread;
use crate::traffic::{Seen, CLIENTS, RATE_PER_CLIENT, STEADY};

/// Everything measured: by scenario and side (its index), one outcome per round.
pub type Results = BTreeMap<(Scenario, usize), Vec<Outcome>>;

pub fn print(labels: &[&'static str], results: &Results, rounds: usize) {
    println!();
    println!(
        "Each window: 2 clients × {RATE_PER_CLIENT} requests/s on GET /health (timeout 2 s each), {} s of answers before the action \
         (the steady p99), the action, then until both clients get 200 again after the action returned (at most {} s) \
         and {} s more. Latencies are of OK (2xx) requests. \"both\" pools the two clients; its longest gap is the worse \
         client's. {}",
        STEADY.as_secs(),
        CAP.as_secs(),
        TAIL.as_secs(),
        if rounds > 1 {
            format!("Numbers are medians of {rounds} rounds; failure reasons are counted over all rounds.")
        } else {
            "One round.".to_string()
        }
    );
    for sc in SCENARIOS {
        println!();
        println!("### {}", sc.title());
        println!();
        println!(
            "| side | clients | sent | failed | failure reasons, first failure (s from the action) | p50 ms | p99 ms | steady p99 ms | longest gap without 200, ms | action s | 200 again at s | window s |"
        );
        println!("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        let mut notes = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let outcomes = results.get(&(sc, i)).map(Vec::as_slice).unwrap_or_default();
            let samples: Vec<_> = outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::Measured(s) => Some(s),
                    Outcome::NotApplicable(_) => None,
                })
                .collect();
            if samples.is_empty() {
                let why = outcomes
                    .iter()
                    .find_map(|o| match o {
                        Outcome::NotApplicable(why) => Some(*why),
                        Outcome::Measured(_) => None,
                    })
                    .unwrap_or("not measured");
                println!("| {label} | – | {why} | | | | | | | | | |");
                continue;
            }
            let action = med(&samples.iter().map(|s| s.action_s).collect::<Vec<_>>(), 2);
            let window = med(&samples.iter().map(|s| s.window_s).collect::<Vec<_>>(), 1);
            let again_values: Vec<f64> = samples.iter().filter_map(|s| s.again_s).collect();
            let again = match again_values.len() {
                0 => format!("never (≤ {} s)", CAP.as_secs()),
                n if n == samples.len() => med(&again_values, 2),
                n => format!("{} ({n} of {} rounds)", med(&again_values, 2), samples.len()),
            };
            let views: Vec<(&str, Vec<Seen>)> =
                std::iter::once(("both", samples.iter().map(|s| pooled(&s.seen)).collect()))
                    .chain(
                        CLIENTS
                            .iter()
                            .enumerate()
                            .map(|(k, (_, name))| (*name, samples.iter().map(|s| s.seen[k].clone()).collect())),
                    )
                    .collect();
            for (n, (view, seen)) in views.iter().enumerate() {
                let m = |f: &dyn Fn(&Seen) -> f64, d: usize| med(&seen.iter().map(f).collect::<Vec<_>>(), d);
                let side = if n == 0 { format!("**{label}**") } else { String::new() };
                let (action, again, window) =
                    if n == 0 { (action.as_str(), again.as_str(), window.as_str()) } else { ("", "", "") };
                println!(
                    "| {side} | {view} | {} | {} | {} | {} | {} | {} | {} | {action} | {again} | {window} |",
                    m(&|s| s.sent as f64, 0),
                    m(&|s| s.failures.len() as f64, 0),
                    reasons(seen),
                    m(&|s| ms(percentile(&s.latencies, 50.0)), 2),
                    m(&|s| ms(percentile(&s.latencies, 99.0)), 2),
                    m(&|s| ms(percentile(&s.steady, 99.0)), 2),
                    m(&|s| ms(s.longest_gap), 0),
                );
            }
            // Each distinct note once, with the rounds that gave it.
            let mut said: Vec<(String, Vec<usize>)> = Vec::new();
            for (r, s) in samples.iter().enumerate() {
                let line = format!("{}; then: {}", s.action_note, s.outcome);
                match said.iter_mut().find(|(l, _)| *l == line) {
                    Some((_, in_rounds)) => in_rounds.push(r + 1),
                    None => said.push((line, vec![r + 1])),
                }
            }
            let said: Vec<String> = said
                .into_iter()
                .map(|(line, in_rounds)| match in_rounds.len() {
                    _ if rounds == 1 => line,
                    n if n == samples.len() => format!("every round: {line}"),
                    _ => {
                        let list: Vec<String> = in_rounds.iter().map(usize::to_string).collect();
                        format!("round {}: {line}", list.join(", "))
                    }
                })
                .collect();
            notes.push(format!("- {label}: {}", said.join(" / ")));
        }
        println!();
        notes.iter().for_each(|n| println!("{n}"));
    }
}

/// Both clients' requests as one client's; the longest gap is the worse client's.
fn pooled(seen: &[Seen]) -> Seen {
    let mut all = Seen::default();
    for s in seen {
        all.sent += s.sent;
        all.ok += s.ok;
        all.failures.extend(s.failures.iter().cloned());
        all.latencies.extend(&s.latencies);
        all.steady.extend(&s.steady);
        all.longest_gap = all.longest_gap.max(s.longest_gap);
    }
    all.failures.sort_by(|a, b| a.0.total_cmp(&b.0));
    all
}

/// `reason ×count, …; first +S s` over every round (the first failure's time: the median of
/// the rounds that had one), or `–`.
fn reasons(seen: &[Seen]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for f in seen.iter().flat_map(|s| &s.failures) {
        match counts.iter_mut().find(|(r, _)| *r == f.1) {
            Some((_, n)) => *n += 1,
            None => counts.push((f.1.clone(), 1)),
        }
    }
    if counts.is_empty() {
        return "–".into();
    }
    let firsts: Vec<f64> = seen.iter().filter_map(|s| s.failures.first().map(|f| f.0)).collect();
    let list: Vec<String> = counts.iter().take(4).map(|(r, n)| format!("{} ×{n}", r.replace('|', "\\|"))).collect();
    let more = if counts.len() > 4 { format!(", {} other reasons", counts.len() - 4) } else { String::new() };
    format!("{}{more}; first at {:+.2} s", list.join(", "), spread(&firsts).0)
}

/// The `p`th percentile (nearest rank) of `v`; zero when empty.
fn percentile(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = v.to_vec();
    sorted.sort_unstable();
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median with `d` decimals.
fn med(values: &[f64], d: usize) -> String {
    format!("{:.d$}", spread(values).0)
}
