//! Output for a person at a terminal (colour, apply's live display) versus output for pipes and
//! logs, and `NO_COLOR`. The terminal is a pty from util-linux `script`.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

const ESC: char = '\u{1b}';

/// Runs tenantd with `args` on a pseudo-terminal; its output (the terminal's) and exit code.
fn in_pty(env: &Env, args: &str, no_color: Option<&str>) -> (String, Option<i32>) {
    let command = format!("'{}' --config '{}' {args}", env!("CARGO_BIN_EXE_tenantd"), env.config.display());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("script (util-linux) runs");
    (stdout(&out), out.status.code())
}

#[test]
fn plan_and_status_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let Some(env) = Env::new("plan_and_status_are_coloured_on_a_terminal_unless_no_color_is_set") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));

    let (coloured, code) = in_pty(&env, "plan", None);
    assert_eq!(code, Some(0), "{coloured}");
    assert!(coloured.contains("\u{1b}[32m+ acme: create\u{1b}[0m"), "{coloured:?}");
    let (plain, _) = in_pty(&env, "plan", Some("1"));
    assert!(plain.contains("+ acme: create") && !plain.contains(ESC), "{plain:?}");
    let piped = env.tenantd(&["plan"]);
    assert!(stdout(&piped).contains("+ acme: create") && !stdout(&piped).contains(ESC), "{}", stdout(&piped));
    // The terminal turns \n into \r\n; apart from that, NO_COLOR output is what a pipe gets.
    assert_eq!(plain.replace("\r\n", "\n"), stdout(&piped));

    env.apply_ok();
    let (status, _) = in_pty(&env, "status", None);
    assert!(status.contains("\u{1b}[32mRunning\u{1b}[0m"), "{status:?}");
    let (status, _) = in_pty(&env, "status", Some("1"));
    assert!(status.contains("Running") && !status.contains(ESC), "{status:?}");
    let piped = stdout(&env.tenantd(&["status"]));
    assert!(piped.contains("Running") && !piped.contains(ESC), "{piped:?}");
}

#[test]
fn apply_shows_live_progress_on_a_terminal_and_plain_lines_otherwise() {
    let Some(env) = Env::new("apply_shows_live_progress_on_a_terminal_and_plain_lines_otherwise") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let (live, code) = in_pty(&env, "apply", Some("1"));
    assert_eq!(code, Some(0), "{live}");
    assert!(live.contains("converging 0/1 tenants"), "the live display: {live:?}");
    assert!(live.contains("acme: ["), "the tenant's current step: {live:?}");
    assert!(live.contains("acme: created"), "the summary follows the display: {live:?}");

    env.spec("beta.yaml", &stub_spec("beta", ""));
    let out = env.tenantd(&["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Off a terminal: a plain line per step as it begins (nothing redrawn, no escapes), for the
    // tenant with work only, then the summary.
    let text = stdout(&out);
    assert!(text.ends_with("\nacme: unchanged\nbeta: created\n"), "the summary comes last: {text:?}");
    assert!(text.starts_with("beta: converging (") && text.contains("\nbeta: [1/"), "{text:?}");
    assert!(!text.contains(ESC) && !text.contains('\r'), "plain lines only: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("acme: [")), "acme had nothing to do: {text:?}");
}

#[test]
fn stats_redraws_in_place_on_a_terminal_and_ends_cleanly_on_ctrl_c() {
    let Some(env) = Env::new("stats_redraws_in_place_on_a_terminal_and_ends_cleanly_on_ctrl_c") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let command = format!("exec '{}' --config '{}' stats", env!("CARGO_BIN_EXE_tenantd"), env.config.display());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let screen = Arc::new(Mutex::new(String::new()));
    let mut reader = child.stdout.take().unwrap();
    let seen = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let frames = |s: &str| s.matches("\u{1b}[HTENANT").count();
    eventually("two frames of stats", Duration::from_secs(30), || (frames(&screen.lock().unwrap()) >= 2).then_some(()));
    // Ctrl-C, typed on the terminal.
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let status = eventually("stats to end on Ctrl-C", Duration::from_secs(10), || child.try_wait().unwrap());
    let screen = screen.lock().unwrap().clone();
    assert!(status.success(), "Ctrl-C ends stats without an error ({status}): {screen:?}");
    assert!(screen.starts_with("\u{1b}[2J\u{1b}[H"), "cleared, then drawn from the top: {screen:?}");
    assert!(screen.contains("acme "), "{screen:?}");
}
