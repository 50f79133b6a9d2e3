//! A side of the comparison (tenantd start first, tenantd stop first, docker-compose) and the
//! scenarios it goes through under load.

use std::time::Duration;

/// What happens to the tenant while the clients send requests.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Scenario {
    /// Its env value changes: the runtime is replaced.
    EnvChange,
    /// Its env value changes and the new version answers 503 on /health.
    FailedReplacement,
    /// The tenantd daemon is stopped (SIGTERM) and started again.
    DaemonRestart,
    /// The serving runtime container is removed with `docker rm -f`.
    RemoveRuntime,
}

pub const SCENARIOS: [Scenario; 4] =
    [Scenario::EnvChange, Scenario::FailedReplacement, Scenario::DaemonRestart, Scenario::RemoveRuntime];

impl Scenario {
    pub fn title(self) -> &'static str {
        match self {
            Scenario::EnvChange => "(1) env change",
            Scenario::FailedReplacement => "(2) failed replacement (the new version answers 503 on /health)",
            Scenario::DaemonRestart => "(3) daemon restart (SIGTERM, start again)",
            Scenario::RemoveRuntime => "(4) `docker rm -f` of the serving runtime container",
        }
    }
}

/// The tenant's desired env: `GREETING`, and whether `STUB_HEALTH: degraded` is set.
#[derive(Clone, Debug)]
pub struct Desired {
    pub greeting: String,
    pub degraded: bool,
}

impl Desired {
    pub fn first() -> Desired {
        Desired { greeting: "hello".into(), degraded: false }
    }

    /// The env as `KEY: "value"` pairs of a YAML flow mapping, the same for every side.
    pub fn env_yaml(&self) -> String {
        let mut env = format!("GREETING: {:?}", self.greeting);
        if self.degraded {
            env.push_str(", STUB_HEALTH: degraded");
        }
        format!("{{ {env} }}")
    }
}

/// What the timed action did.
pub struct Action {
    /// Until the command returned (for a daemon restart: until the daemon runs again and one
    /// more second passed).
    pub took: Duration,
    /// What it said: an exit status, a summary line.
    pub note: String,
}

/// A way to run the tenant.
pub trait Side {
    /// The side's name in progress lines and the report.
    fn label(&self) -> &'static str;
    /// Creates the tenant and returns once it answers GET /health with 200 on its endpoint.
    fn up(&mut self);
    /// The host port of the tenant's endpoint on 127.0.0.1.
    fn port(&self) -> u16;
    /// Why the side has no such scenario, when it has none.
    fn not_applicable(&self, sc: Scenario) -> Option<&'static str>;
    /// Before the window, untimed: the user's edit of the desired state, a daemon started.
    fn before(&mut self, sc: Scenario, round: usize);
    /// The timed action.
    fn act(&mut self, sc: Scenario) -> Action;
    /// After the window: what the side did, in a few words, and the side brought back to a
    /// serving, good state for the next scenario (a daemon stopped, a bad edit undone).
    fn after(&mut self, sc: Scenario) -> String;
}

/// Polls GET /health on 127.0.0.1:`port` until it answers 200; false after `within`.
pub fn wait_serving(port: u16, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if crate::engine::http_get(port, "/health") == Some(200) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `docker rm -f <name>`, timed.
pub fn remove_container(name: &str) -> Action {
    let t0 = std::time::Instant::now();
    let mut cmd = std::process::Command::new("docker");
    cmd.args(["rm", "-f", name]);
    let out = crate::command::run(cmd, Duration::from_secs(60));
    Action { took: t0.elapsed(), note: format!("`docker rm -f {name}` exit {}", exit_code(out.status.code())) }
}

/// An exit code, or what ended the process without one.
pub fn exit_code(code: Option<i32>) -> String {
    code.map(|c| c.to_string()).unwrap_or_else(|| "by a signal".into())
}

/// An HTTP status as the notes say it, or "no answer".
pub fn status_word(code: Option<u16>) -> String {
    code.map(|c| format!("HTTP {c}")).unwrap_or_else(|| "no answer".into())
}

/// The first `n` characters of `s`, for a markdown table cell or note.
pub fn clip(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out.replace('|', "\\|")
}
