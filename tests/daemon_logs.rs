//! Logs read well in both places they go: a terminal gets timestamps, the journal (which stamps
//! every line itself) gets none.

mod support;

use support::daemon::*;
use support::*;

fn starts_with_timestamp(line: &str) -> bool {
    // tracing's default timestamp: 2026-11-22T10:31:00.123456Z
    let b = line.as_bytes();
    b.len() > 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

#[test]
fn journal_lines_carry_no_timestamp_and_terminal_lines_do() {
    let Some(env) = Env::new("journal_lines_carry_no_timestamp_and_terminal_lines_do") else {
        return;
    };
    let terminal = Daemon::start(&env);
    let line = terminal.wait_for_log("tenantd is running", std::time::Duration::from_secs(20));
    assert!(starts_with_timestamp(&line), "terminal line without a timestamp: {line:?}");
    drop(terminal);

    let journal = Daemon::start_with(&env, &[], &[("JOURNAL_STREAM", "8:12345")]);
    let line = journal.wait_for_log("tenantd is running", std::time::Duration::from_secs(20));
    assert!(!starts_with_timestamp(&line), "journal line with a timestamp of its own: {line:?}");
    assert!(line.contains("INFO"), "{line:?}");
}
