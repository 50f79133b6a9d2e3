//! The day-2 commands against the real engine: `tenantd logs` (tail, since, timestamps, follow,
//! stdout and stderr apart), `tenantd restart` beside a running daemon, and `tenantd exec`
//! (exit codes, stdin, a terminal), on a tenant's runtime container and on a sidecar.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::daemon::Daemon;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// A stub tenant with a stub sidecar `helper` listening on 8080.
fn tenant_with_sidecar(name: &str) -> String {
    stub_spec(name, "").replace(
        "  volumes:",
        "  sidecars: [ { name: helper, image: tenantd-stub:test, pullPolicy: Never, env: { PORT: \"8080\" } } ]\n  volumes:",
    )
}

/// Sends bytes to the tenant's host port and reads until the stub closes the connection.
fn send_raw(port: u16, raw: &[u8]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the tenant's port answers");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw).unwrap();
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut sink);
}

/// The real binary on this test's config, for a run the test drives itself (stdin, signals).
fn tenantd_command(env: &Env, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantd"));
    command.arg("--config").arg(&env.config).args(args).env_remove("CONTAINER_RUNTIME");
    command
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

#[test]
fn logs_keep_stdout_and_stderr_apart_and_honour_tail_since_and_timestamps() {
    let Some(env) = Env::new("logs_keep_stdout_and_stderr_apart_and_honour_tail_since_and_timestamps") else {
        return;
    };
    // Stop first: the runtime publishes its port itself, so a malformed request reaches it (an
    // ingress would answer it).
    env.spec("acme.yaml", &stub_spec("acme", "  rollout: { strategy: stopFirst }\n"));
    env.apply_ok();
    let port = env.host_port("acme");

    let all = env.tenantd(&["logs", "acme"]);
    assert!(all.status.success(), "{}", stderr(&all));
    assert!(stdout(&all).contains("listening on 0.0.0.0:18789"), "stdout: {}", stdout(&all));

    // A malformed request: the stub logs it on its stderr, and only there.
    send_raw(port, b"NONSENSE\r\n\r\n");
    let split = eventually("the 400 line in the logs' stderr", WAIT, || {
        let o = env.tenantd(&["logs", "acme"]);
        stderr(&o).contains("- - 400").then_some(o)
    });
    assert!(split.status.success());
    assert!(!stdout(&split).contains("- - 400"), "stderr output went to stdout: {}", stdout(&split));
    assert!(!stderr(&split).contains("listening on"), "stdout output went to stderr: {}", stderr(&split));

    // A request line on stdout after the 400 line, so the logs hold several lines.
    send_raw(port, b"GET /after-the-error HTTP/1.0\r\n\r\n");
    eventually("the request line in the logs", WAIT, || {
        stdout(&env.tenantd(&["logs", "acme"])).contains("GET /after-the-error").then_some(())
    });
    let tail = env.tenantd(&["logs", "acme", "--tail", "1"]);
    assert!(tail.status.success(), "{}", stderr(&tail));
    let (out, err) = (stdout(&tail), stderr(&tail));
    assert_eq!(lines(&out).len() + lines(&err).len(), 1, "--tail 1 printed:\n{out}---\n{err}");
    assert!(!out.contains("listening on"), "{out}");

    let future = env.tenantd(&["logs", "acme", "--since", "2037-01-01T00:00:00Z"]);
    assert!(future.status.success(), "{}", stderr(&future));
    assert_eq!((stdout(&future).as_str(), stderr(&future).as_str()), ("", ""));

    let hour = env.tenantd(&["logs", "acme", "--since", "1h"]);
    assert!(stdout(&hour).contains("listening on"), "{}", stdout(&hour));

    let stamped = env.tenantd(&["logs", "acme", "--timestamps"]);
    let first = lines(&stdout(&stamped)).first().map(|l| l.to_string()).unwrap_or_default();
    let (stamp, rest) = first.split_once(' ').unwrap_or_default();
    assert!(
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).is_ok(),
        "no RFC 3339 timestamp in {first:?}"
    );
    assert!(rest.starts_with("listening on"), "{first:?}");

    let bad = env.tenantd(&["logs", "acme", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--since \"yesterday\" is neither an RFC 3339 time"), "{}", stderr(&bad));
}

#[test]
fn logs_follow_prints_new_lines_and_ends_when_the_container_stops() {
    let Some(env) = Env::new("logs_follow_prints_new_lines_and_ends_when_the_container_stops") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let port = env.host_port("acme");

    let out_path = env.path("follow.out");
    let mut follow = tenantd_command(&env, &["logs", "-f", "acme"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenantd logs -f starts");
    let read = || std::fs::read_to_string(&out_path).unwrap_or_default();
    eventually("the start line in the followed logs", WAIT, || read().contains("listening on").then_some(()));

    // A line the stub writes only now, after `logs -f` started.
    send_raw(port, b"GET /written-while-following HTTP/1.0\r\n\r\n");
    eventually("the new line in the followed logs", WAIT, || {
        read().contains("GET /written-while-following").then_some(())
    });
    assert!(follow.try_wait().unwrap().is_none(), "logs -f ended while the container runs");

    // Ctrl-C ends a follow with success.
    let mut interrupted = tenantd_command(&env, &["logs", "-f", "acme"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(interrupted.stdout.as_mut().unwrap()), &mut first)
        .unwrap();
    assert!(first.contains("listening on"), "{first:?}");
    let kill = Command::new("kill").args(["-INT", &interrupted.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = eventually("logs -f to end on SIGINT", WAIT, || interrupted.try_wait().unwrap());
    assert_eq!(status.code(), Some(0), "logs -f ended with {status} on SIGINT");

    let stopped = docker(&["stop", "-t", "5", &env.container("acme")]);
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let status = eventually("logs -f to end after the container stopped", WAIT, || follow.try_wait().unwrap());
    assert!(status.success(), "logs -f exited with {status}");
    assert!(read().contains("stop signal received, exiting"), "{}", read());

    // Nothing to run a command in now.
    let exec = env.tenantd(&["exec", "acme", "--", "/stub-runtime", "echo", "hi"]);
    assert_eq!(exec.status.code(), Some(1));
    assert!(stderr(&exec).contains("acme is not running (exited with code 0)"), "{}", stderr(&exec));
}

#[test]
fn exec_passes_exit_codes_stdin_and_a_terminal_and_reaches_sidecars() {
    let Some(env) = Env::new("exec_passes_exit_codes_stdin_and_a_terminal_and_reaches_sidecars") else {
        return;
    };
    env.spec("acme.yaml", &tenant_with_sidecar("acme"));
    env.apply_ok();

    let code = env.tenantd(&["exec", "acme", "--", "/stub-runtime", "exit", "7"]);
    assert_eq!(code.status.code(), Some(7), "{}", stderr(&code));

    let out = env.tenantd(&["exec", "acme", "--", "/stub-runtime", "echo", "to", "stdout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("to stdout\n", ""));
    let err = env.tenantd(&["exec", "acme", "--", "/stub-runtime", "echo", "--stderr", "to", "stderr"]);
    assert!(err.status.success(), "{}", stderr(&err));
    assert_eq!((stdout(&err).as_str(), stderr(&err).as_str()), ("", "to stderr\n"));

    // -i: stdin reaches the command, and its end ends `cat`.
    let input: String = (0..2000).map(|i| format!("line {i} of piped stdin\n")).collect();
    let mut cat = tenantd_command(&env, &["exec", "-i", "acme", "--", "/stub-runtime", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cat.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let cat = cat.wait_with_output().unwrap();
    assert!(cat.status.success(), "{}", stderr(&cat));
    assert!(stdout(&cat) == input, "cat returned {} bytes of {}", cat.stdout.len(), input.len());

    // -it with a pipe: the end of stdin reaches the command through its terminal, even after
    // a line without its newline.
    let mut cat_tty = tenantd_command(&env, &["exec", "-it", "acme", "--", "/stub-runtime", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cat_tty.stdin.take().unwrap().write_all(b"first\nsecond").unwrap();
    let cat_tty = cat_tty.wait_with_output().unwrap();
    assert!(cat_tty.status.success(), "{}", stderr(&cat_tty));
    // The terminal echoes the input, then cat repeats it, with the terminal's line endings.
    assert!(stdout(&cat_tty).contains("first\r\n"), "{:?}", stdout(&cat_tty));
    assert!(stdout(&cat_tty).matches("second").count() == 2, "{:?}", stdout(&cat_tty));

    // -t under a pseudo-terminal of a given size: the command has a terminal of that size.
    let bin = env!("CARGO_BIN_EXE_tenantd");
    let inner = format!(
        "stty cols 91 rows 37; {bin} --config {} exec -it acme -- /stub-runtime tty; echo exit=$?",
        env.config.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env_remove("CONTAINER_RUNTIME")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    let text = stdout(&tty);
    assert!(text.contains("tty 91x37"), "exec -it under a terminal printed: {text:?} {}", stderr(&tty));
    assert!(text.contains("exit=0"), "{text:?}");
    // Raw mode while the command runs, the settings as they were once it ended (here with a
    // failure exit code).
    let (before, after) = (env.path("stty.before"), env.path("stty.after"));
    let inner = format!(
        "stty -g > {}; {bin} --config {} exec -it acme -- /stub-runtime exit 5; echo exit=$?; stty -g > {}",
        before.display(),
        env.config.display(),
        after.display()
    );
    let restored = Command::new("script").args(["-qec", &inner, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    assert!(stdout(&restored).contains("exit=5"), "{}", stdout(&restored));
    let settings = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert!(!settings(&before).trim().is_empty());
    assert_eq!(settings(&before), settings(&after), "the terminal settings were not restored");
    // A program that is not there: the engine's code for it, as with `docker exec`.
    let missing = env.tenantd(&["exec", "acme", "--", "/no-such-program"]);
    assert_eq!(missing.status.code(), Some(126), "{} {}", stdout(&missing), stderr(&missing));
    // Without -t the command has no terminal even when tenantd has one.
    let plain = Command::new("script")
        .args(["-qec", &format!("{bin} --config {} exec acme -- /stub-runtime tty", env.config.display()), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(stdout(&plain).contains("no tty"), "{}", stdout(&plain));

    // -c: the sidecar, for exec and for logs.
    let side = env.tenantd(&["exec", "-c", "helper", "acme", "--", "/stub-runtime", "exit", "3"]);
    assert_eq!(side.status.code(), Some(3), "{}", stderr(&side));
    let side_logs = env.tenantd(&["logs", "-c", "helper", "acme"]);
    assert!(stdout(&side_logs).contains("listening on 0.0.0.0:8080"), "{}", stdout(&side_logs));
    assert!(!stdout(&side_logs).contains("0.0.0.0:18789"), "{}", stdout(&side_logs));

    let typo = env.tenantd(&["exec", "acm", "--", "/stub-runtime", "echo"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        stderr(&typo).contains("no tenant \"acm\" (did you mean \"acme\"?); known tenants: acme"),
        "{}",
        stderr(&typo)
    );
    let sidecar = env.tenantd(&["logs", "-c", "nope", "acme"]);
    assert_eq!(sidecar.status.code(), Some(1));
    assert!(
        stderr(&sidecar).contains("tenant acme has no sidecar \"nope\"; its sidecars: helper"),
        "{}",
        stderr(&sidecar)
    );
}

#[test]
fn restart_keeps_the_container_and_the_daemon_leaves_it_alone() {
    let Some(env) = Env::new("restart_keeps_the_container_and_the_daemon_leaves_it_alone") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", WAIT);
    let before = env.inspect(&env.container("acme")).expect("container");
    let id = before["Id"].as_str().unwrap().to_string();

    let restarted = env.tenantd(&["restart", "acme"]);
    assert!(restarted.status.success(), "{}", stderr(&restarted));
    assert!(
        stdout(&restarted).contains(&format!("acme: restarted container {} ({})", env.container("acme"), &id[..12])),
        "{}",
        stdout(&restarted)
    );

    let after = env.inspect(&env.container("acme")).expect("container");
    assert_eq!(after["Id"], before["Id"], "restart replaced the container");
    assert_ne!(after["State"]["StartedAt"], before["State"]["StartedAt"], "the container did not restart");
    assert_eq!(after["Mounts"], before["Mounts"], "volumes changed");
    let status = daemon.await_running(&env, "acme", WAIT);
    assert_eq!(status["containerId"].as_str(), Some(id.as_str()));
    // Whatever the daemon made of the restart's stop and start events, it kept the container.
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()), "the daemon replaced the restarted container");
    assert_eq!(daemon.count_log("change=Replace"), 0, "{}", daemon.logs());
}
