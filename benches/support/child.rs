//! Measurements in fresh processes: the bench binary runs itself as `--child MODE DIR`, and the
//! child prints one `RESULT <json>` line. One process per measurement keeps one run's
//! allocations out of the next run's RSS.

// Each bench includes this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What the bench binary was asked to do.
pub enum Role {
    /// Run by `cargo test --all-targets`: measure nothing.
    Idle,
    /// `cargo bench`: write the inputs, run the children, print the report.
    Parent,
    /// `--child MODE DIR`: one measurement.
    Child { mode: String, dir: PathBuf },
}

/// The role from the command line. `cargo test --all-targets` builds and runs bench targets
/// too; only `cargo bench` (which passes `--bench`) and the bench's own children measure.
pub fn role() -> Role {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let mode = args.get(i + 1).expect("--child MODE DIR").clone();
        let dir = PathBuf::from(args.get(i + 2).expect("--child MODE DIR"));
        return Role::Child { mode, dir };
    }
    if args.iter().any(|a| a == "--bench") {
        Role::Parent
    } else {
        println!("benchmark not run: use `cargo bench` or scripts/bench.sh");
        Role::Idle
    }
}

/// Prints a child's result where [`run_child`] finds it.
pub fn report(result: &Value) {
    println!("RESULT {result}");
}

/// Runs this binary as `--child mode dir` with extra environment `vars`; returns its result.
/// Panics, with the child's output, when it printed none.
pub fn run_child(mode: &str, dir: &Path, vars: &[(&str, String)]) -> Value {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args(["--child", mode]).arg(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("RESULT ")).unwrap_or_else(|| {
        panic!("child {mode} failed ({}):\n{text}\n{}", out.status, String::from_utf8_lossy(&out.stderr))
    });
    serde_json::from_str(line).expect("child result is JSON")
}
