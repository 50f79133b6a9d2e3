//! Medians, ranges and table rows of the benchmarks' reports.

// Each bench includes this module and uses part of it.
#![allow(dead_code)]

/// Sorts `v` and returns its median (NaN when empty).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Median, min and max.
pub fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    let m = median(&mut v);
    (m, v.first().copied().unwrap_or(f64::NAN), v.last().copied().unwrap_or(f64::NAN))
}

/// "median (min–max)" with `d` decimals.
pub fn med_range(values: &[f64], d: usize) -> String {
    let (m, lo, hi) = spread(values);
    format!("{m:.d$} ({lo:.d$}–{hi:.d$})")
}

/// One markdown table row: label, median, min–max, with `d` decimals.
pub fn row(label: &str, values: &[f64], d: usize) {
    let (m, lo, hi) = spread(values);
    println!("| {label} | {m:.d$} | {lo:.d$}–{hi:.d$} |");
}

/// "met" or "MISSED".
pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// A number from the environment, else `default`.
pub fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}
