//! A running `tenantd run` for integration tests: the real binary as a child process of the
//! test, its logs in files of the test's temp dir, signals sent with the `kill` command, and
//! polling helpers that wait on status files and on the engine with deadlines.
//!
//! Declare the `Daemon` after the `Env` it runs in, so it is dropped (killed) first and cannot
//! repair what the `Env` cleans up. A test that fails prints the daemon's logs (every test
//! does with `TENANTD_TEST_DAEMON_LOGS=1`; `TENANTD_TEST_DAEMON_LOG_LEVEL=debug` says more).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{docker, eventually, stdout, Env};

static STARTED: AtomicU32 = AtomicU32::new(0);

/// How long a daemon gets to announce itself (the engine answering, its first log line).
pub const STARTUP: Duration = Duration::from_secs(20);

/// The line the daemon logs once it watches, follows the engine and has signal handlers in
/// place: before it, a SIGHUP would kill the process with the default action.
pub const RUNNING_LINE: &str = "tenantd is running";

/// One `tenantd run` child process.
pub struct Daemon {
    child: Child,
    stderr: PathBuf,
    stdout: PathBuf,
    exited: Option<ExitStatus>,
}

impl Daemon {
    /// Starts `tenantd --config <env.config> run` and waits until it says it is running.
    pub fn start(env: &Env) -> Daemon {
        Self::start_with(env, &[], &[])
    }

    /// Like [`Daemon::start`], with extra arguments after `run` and extra environment
    /// variables.
    pub fn start_with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let d = Self::spawn(env, args, vars);
        d.wait_for_log(RUNNING_LINE, STARTUP);
        d
    }

    /// Like [`Daemon::start`], as systemd starts a service whose output goes to the journal:
    /// `JOURNAL_STREAM` names the device and inode of the file its stderr is.
    pub fn start_under_journald(env: &Env, args: &[&str]) -> Daemon {
        let d = Self::spawn_inner(env, args, &[], true);
        d.wait_for_log(RUNNING_LINE, STARTUP);
        d
    }

    /// Starts the child without waiting for anything (e.g. for one that is expected to fail).
    pub fn spawn(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        Self::spawn_inner(env, args, vars, false)
    }

    fn spawn_inner(env: &Env, args: &[&str], vars: &[(&str, &str)], journald: bool) -> Daemon {
        use std::os::unix::fs::MetadataExt;
        let n = STARTED.fetch_add(1, Ordering::SeqCst);
        let stderr = env.path(&format!("daemon-{n}.stderr"));
        let stdout = env.path(&format!("daemon-{n}.stdout"));
        let stderr_file = File::create(&stderr).expect("daemon stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantd"));
        cmd.arg("--config").arg(&env.config).arg("run").args(args);
        // Nothing of the test runner's own service manager or configuration leaks in.
        for var in
            ["CONTAINER_RUNTIME", "TENANTD_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"]
        {
            cmd.env_remove(var);
        }
        let level = std::env::var("TENANTD_TEST_DAEMON_LOG_LEVEL").unwrap_or_else(|_| "info".into());
        cmd.env("TENANTD_LOG", level).env("NO_COLOR", "1");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        if journald {
            let meta = stderr_file.metadata().expect("daemon stderr file metadata");
            cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        cmd.stdin(Stdio::null()).stdout(File::create(&stdout).expect("daemon stdout file")).stderr(stderr_file);
        let child = cmd.spawn().expect("tenantd run starts");
        Daemon { child, stderr, stdout, exited: None }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`, …) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let o = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).output().expect("kill runs");
        assert!(o.status.success(), "kill -{sig} {}: {}", self.pid(), String::from_utf8_lossy(&o.stderr));
    }

    /// The exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Waits for the process to exit; panics (with the logs) when it is still running at the
    /// deadline.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.try_exit() {
                return s;
            }
            assert!(Instant::now() < deadline, "the daemon did not exit within {within:?}; logs:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything it wrote to stderr so far, as written.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Everything it wrote so far, stderr then stdout, without colour codes.
    pub fn logs(&self) -> String {
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        strip_ansi(&format!("{}{}", read(&self.stderr), read(&self.stdout)))
    }

    /// How many log lines contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.logs().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        eventually(&format!("a log line containing {needle:?}"), within, || {
            self.logs().lines().find(|l| l.contains(needle)).map(str::to_string)
        })
    }

    /// Waits until the tenant's status file says `phase`; returns the status.
    pub fn await_phase(&self, env: &Env, tenant: &str, phase: &str, within: Duration) -> Value {
        eventually(&format!("{tenant} in phase {phase}"), within, || env.status(tenant).filter(|s| s["phase"] == phase))
    }

    /// Waits until the tenant is `Running`, its main container runs and its runtime answers
    /// /health with 200 on the host port its status names; returns the status.
    pub fn await_running(&self, env: &Env, tenant: &str, within: Duration) -> Value {
        eventually(&format!("{tenant} running and healthy"), within, || {
            let s = env.status(tenant).filter(|s| s["phase"] == "Running" && s["health"] == "healthy")?;
            let c = container(env, tenant)?;
            (c["State"]["Running"] == true && s["containerId"] == c["Id"]).then_some(())?;
            let port = s["hostPort"].as_u64()? as u16;
            (super::http_get(port, "/health") == Some(200)).then_some(s)
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            // SIGKILL, so nothing of the daemon outlives the test or races its cleanup.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() || std::env::var_os("TENANTD_TEST_DAEMON_LOGS").is_some() {
            eprintln!("--- tenantd run (pid {}) logs ---\n{}--- end of logs ---", self.pid(), self.logs());
        }
    }
}

/// `docker inspect --type container` of a tenant's main container, or None.
pub fn container(env: &Env, tenant: &str) -> Option<Value> {
    inspect_typed("container", &env.container(tenant))
}

/// `docker inspect --type network` of a tenant's network, or None.
pub fn network(env: &Env, tenant: &str) -> Option<Value> {
    inspect_typed("network", &env.network(tenant))
}

pub fn container_id(env: &Env, tenant: &str) -> Option<String> {
    container(env, tenant).and_then(|c| c["Id"].as_str().map(str::to_string))
}

fn inspect_typed(kind: &str, name: &str) -> Option<Value> {
    let o = docker(&["inspect", "--type", kind, name]);
    if !o.status.success() {
        return None;
    }
    serde_json::from_slice::<Value>(&o.stdout).ok()?.get(0).cloned()
}

/// Names of every container of the instance (running or not) but the tenants' ingresses, sorted.
pub fn instance_containers(env: &Env) -> Vec<String> {
    instance_containers_with_ingresses(env).into_iter().filter(|n| !n.ends_with("_ingress")).collect()
}

/// Names of every container of the instance (running or not), sorted.
pub fn instance_containers_with_ingresses(env: &Env) -> Vec<String> {
    let filter = format!("label=io.tenantd.instance={}", env.instance);
    sorted_lines(&stdout(&docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])))
}

/// Names of every network of the instance, sorted.
pub fn instance_networks(env: &Env) -> Vec<String> {
    let filter = format!("label=io.tenantd.instance={}", env.instance);
    sorted_lines(&stdout(&docker(&["network", "ls", "--filter", &filter, "--format", "{{.Name}}"])))
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    v.sort();
    v
}

/// A POST with a plain-text body on 127.0.0.1; the status code, or None when nothing answers.
pub fn http_post(port: u16, path: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// The engine's clock as `docker events --since/--until` takes it.
pub fn engine_now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `docker events` of the instance's containers between two instants, as `<action> <name>` lines.
pub fn instance_events(env: &Env, since: &str, until: &str) -> Vec<String> {
    let filter = format!("label=io.tenantd.instance={}", env.instance);
    let out = docker(&[
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        &filter,
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    stdout(&out).lines().filter(|l| !l.starts_with("exec_")).map(str::to_string).collect()
}

/// Waits `eventually`-style until `docker inspect` of the tenant's container satisfies `f`.
pub fn await_container(env: &Env, tenant: &str, what: &str, within: Duration, f: impl Fn(&Value) -> bool) -> Value {
    eventually(what, within, || container(env, tenant).filter(|c| f(c)))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
