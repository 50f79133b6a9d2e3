//! The daemon's policy, in-process: `daemon::run` against the in-memory fake runtime, under
//! tokio's paused clock, so waits of seconds (backoff, resync, debounce) take no wall time.
//! Nothing here proves the engine adapters; tests/daemon_*.rs do that against a real engine.
//!
//! The fake reports no engine events, so changes behind the daemon's back are found by the
//! periodic resync, which these tests set short. Conditions are waited for by polling the fake
//! and the status files against a deadline on the paused clock.
//!
//! The directory watch is a thread of its own that knows nothing of the paused clock: while the
//! runtime waits for it, the clock jumps ahead to the next timer. A test that edits a spec
//! therefore blocks for a moment of real time right after the write (the clock cannot move
//! while the runtime is blocked), so the watch has reported the edit at the instant it was made.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tenantd::config::DaemonConfig;
use tenantd::daemon::notify::Notifier;
use tenantd::daemon::{Signal, Signals};
use tenantd::reconcile::PassOptions;
use tenantd::render::ContainerRole;
use tenantd::runtime::fake::{Call, FakeRuntime};
use tenantd::runtime::{ContainerState, Runtime};
use tenantd::spec::TenantName;
use tenantd::status::{Health, Phase, StatusStore, TenantStatus};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often conditions are looked at, on the paused clock.
const POLL: Duration = Duration::from_millis(10);

/// A stub spec as the benches write it: no published port, so tenantd cannot probe it from the
/// host and the engine's health (healthy once the fake starts it) is the verdict.
fn spec(name: &str, greeting: &str) -> String {
    format!(
        "apiVersion: tenantd/v1
kind: Tenant
metadata: {{ name: {name} }}
spec:
  image: tenantd-stub:test
  pullPolicy: Never
  env: {{ GREETING: {greeting} }}
  health: {{ interval: 30s, timeout: 5s, retries: 3, startPeriod: 20s, probeCommand: [/stub-runtime, probe] }}
  network: {{ egress: deny }}
"
    )
}

/// A daemon running in this test's runtime, on a fake engine, in a temporary directory.
struct Daemon {
    dir: tempfile::TempDir,
    cfg: DaemonConfig,
    fake: Arc<FakeRuntime>,
    signals: UnboundedSender<Signal>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    /// Starts the daemon with `daemon_settings` (lines of the config's `[daemon]` table) and
    /// the given specs in its tenants directory.
    fn start(daemon_settings: &str, specs: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let tenants = dir.path().join("tenants.d");
        std::fs::create_dir_all(&tenants).unwrap();
        for (name, yaml) in specs {
            std::fs::write(tenants.join(format!("{name}.yaml")), yaml).unwrap();
        }
        let config = dir.path().join("tenantd.toml");
        let text = format!(
            "tenants_dir = {tenants:?}\nstate_dir = {:?}\ninstance = \"policy\"\nport_range = [24000, 24019]\n\
             [daemon]\n{daemon_settings}\n",
            dir.path().join("state")
        );
        std::fs::write(&config, text).unwrap();
        let cfg = DaemonConfig::load(&config, None).expect("config");
        let fake = Arc::new(FakeRuntime::new());
        let (signals, rx) = Signals::channel();
        let task = {
            let (cfg, runtime) = (cfg.clone(), fake.clone() as Arc<dyn Runtime>);
            tokio::spawn(async move {
                let load = |p: &Path| Ok(DaemonConfig::load(p, None)?);
                let notifier = Arc::new(Notifier::disabled());
                tenantd::daemon::run(cfg, runtime, load, PassOptions::default(), rx, notifier).await
            })
        };
        Self { dir, cfg, fake, signals, task }
    }

    fn tenants_dir(&self) -> PathBuf {
        self.dir.path().join("tenants.d")
    }

    fn status(&self, tenant: &str) -> Option<TenantStatus> {
        let name: TenantName = tenant.parse().unwrap();
        StatusStore::new(self.cfg.status_dir()).read(&name).ok().flatten()
    }

    /// The state of `tenant`'s main container in the fake, if it has one.
    fn main_state(&self, tenant: &str) -> Option<ContainerState> {
        let name: TenantName = tenant.parse().unwrap();
        self.fake.with_world(|w| w.tenants.get(&name)?.container(&ContainerRole::Main).map(|c| c.state))
    }

    /// Makes `tenant`'s main container exit with `code`, as if its runtime had crashed.
    fn crash(&self, tenant: &str, code: i64) {
        let name: TenantName = tenant.parse().unwrap();
        self.fake.with_world(|w| {
            let t = w.tenants.get_mut(&name).expect("the tenant exists in the fake");
            let main = t.containers.iter_mut().find(|c| c.role == ContainerRole::Main).expect("a main container");
            main.state = ContainerState::Exited { code };
        });
    }

    /// Calls to the fake matching `f` so far.
    fn count(&self, f: impl Fn(&Call) -> bool) -> usize {
        self.fake.calls().iter().filter(|c| f(c)).count()
    }

    /// Sends Terminate and waits (on the paused clock) for `run` to return.
    async fn stop(self) {
        self.signals.send(Signal::Terminate).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(1), self.task).await;
        result.expect("run returns within 1 s of Terminate").expect("daemon task").expect("run");
    }
}

/// Polls `f` until it yields a value, for at most `limit` of (paused) time; panics otherwise,
/// saying `what` and the last value of `show`.
async fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `tenant`'s status file until `f` holds for it; panics with the last status otherwise.
async fn wait_for_status(d: &Daemon, tenant: &str, limit: Duration, f: impl Fn(&TenantStatus) -> bool) -> TenantStatus {
    let deadline = Instant::now() + limit;
    loop {
        let status = d.status(tenant);
        match status {
            Some(s) if f(&s) => return s,
            _ => assert!(Instant::now() < deadline, "{tenant}'s status, {limit:?} on: {status:#?}"),
        }
        tokio::time::sleep(POLL).await;
    }
}

fn is_start(c: &Call) -> bool {
    matches!(c, Call::StartContainer(_))
}

#[tokio::test(start_paused = true)]
async fn a_tenant_converges_to_a_running_container_and_a_running_status() {
    let d = Daemon::start("", &[("acme", spec("acme", "hello"))]);
    wait_for("acme's container to run", Duration::from_secs(10), || {
        (d.main_state("acme") == Some(ContainerState::Running)).then_some(())
    })
    .await;
    // No published port: the engine's health (healthy) is the verdict, so Running, not Pending.
    let status = wait_for_status(&d, "acme", Duration::from_secs(10), |s| s.phase == Phase::Running).await;
    assert_eq!(status.tenant, "acme");
    assert!(status.next_retry_time.is_none(), "{status:?}");
    assert!(!d.task.is_finished(), "the daemon keeps running");
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn terminate_and_interrupt_stop_the_daemon_and_leave_tenants_running() {
    for signal in [Signal::Terminate, Signal::Interrupt] {
        let mut d = Daemon::start("", &[("acme", spec("acme", "hello"))]);
        wait_for_status(&d, "acme", Duration::from_secs(10), |s| s.phase == Phase::Running).await;
        // A hangup reloads the (unchanged) config; the daemon goes on.
        d.signals.send(Signal::Hangup).unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!d.task.is_finished(), "a hangup does not stop the daemon");

        d.fake.clear_calls();
        d.signals.send(signal).unwrap();
        let stopped_at = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(1), &mut d.task).await;
        result.expect("run returns within 1 s").expect("daemon task").expect("run");
        assert!(stopped_at.elapsed() < Duration::from_secs(1));
        assert_eq!(d.main_state("acme"), Some(ContainerState::Running), "{signal:?}: tenants keep running");
        let calls = d.fake.calls();
        assert!(!calls.iter().any(Call::is_mutation), "{signal:?}: stopping changed the engine: {calls:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_crashing_runtime_is_started_again_after_a_growing_backoff() {
    let d = Daemon::start("resync_interval = \"1s\"", &[("acme", spec("acme", "hello"))]);
    wait_for_status(&d, "acme", Duration::from_secs(10), |s| s.phase == Phase::Running).await;

    // The first crash is answered at the next resync; each later one waits out the backoff,
    // 10 s then 20 s after the previous start (the resync adds up to 1 s).
    let mut last_start: Option<Instant> = None;
    for (i, wait) in [None, Some(10u64), Some(20), Some(40)].into_iter().enumerate() {
        let starts = d.count(is_start);
        d.crash("acme", 2);
        let crashed_at = Instant::now();
        if let Some(secs) = wait {
            // While it waits, the status says so and when the next try is.
            let waiting = wait_for_status(&d, "acme", Duration::from_secs(3), |s| s.phase == Phase::CrashLoopBackOff);
            let status = waiting.await;
            let next = status.next_retry_time.expect("nextRetryTime while in CrashLoopBackOff");
            let ahead = next - status.last_update_time.expect("lastUpdateTime");
            assert!(
                ahead > time::Duration::seconds(secs as i64 - 2) && ahead <= time::Duration::seconds(secs as i64),
                "crash {i}: next retry {ahead} ahead, expected about {secs} s: {status:?}"
            );
        }
        wait_for(&format!("crash {i}: the container to be started again"), Duration::from_secs(60), || {
            (d.count(is_start) > starts && d.main_state("acme") == Some(ContainerState::Running)).then_some(())
        })
        .await;
        let now = Instant::now();
        match (wait, last_start) {
            (None, _) => assert!(now - crashed_at <= Duration::from_millis(1100), "crash {i}: {:?}", now - crashed_at),
            (Some(secs), Some(prev)) => {
                let since = now - prev;
                let (lo, hi) = (Duration::from_secs(secs), Duration::from_secs(secs) + Duration::from_millis(1100));
                assert!(since >= lo && since <= hi, "crash {i}: started again {since:?} after the previous start");
            }
            (Some(_), None) => unreachable!(),
        }
        last_start = Some(now);
    }
    assert_eq!(d.count(is_start), 4 + 1, "one start per crash, after the first one");
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn spec_writes_within_the_debounce_window_lead_to_one_replacement() {
    let d = Daemon::start("debounce = \"1s\"\nresync_interval = \"1h\"", &[("acme", spec("acme", "v0"))]);
    wait_for_status(&d, "acme", Duration::from_secs(10), |s| s.phase == Phase::Running).await;
    let first = d.status("acme").unwrap().spec_hash.expect("a spec hash");
    d.fake.clear_calls();

    // Three edits 200 ms apart. Each waits a moment of real time (the clock stands still) so the
    // watch thread has reported it before the paused clock moves on.
    let burst = Instant::now();
    for greeting in ["v1", "v2", "v3"] {
        std::fs::write(d.tenants_dir().join("acme.yaml"), spec("acme", greeting)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The first change comes once the directory has been quiet for the debounce window after
    // the last edit, at the next tick (250 ms) at the latest.
    let quiet = burst + Duration::from_millis(400) + Duration::from_secs(1);
    wait_for("the replacement", Duration::from_secs(10), || d.fake.calls().iter().any(Call::is_mutation).then_some(()))
        .await;
    let waited = Instant::now();
    assert!(waited >= quiet && waited <= quiet + Duration::from_millis(300), "{:?} after the burst", waited - burst);
    let status = wait_for("acme to run the last edit", Duration::from_secs(10), || {
        d.status("acme").filter(|s| s.phase == Phase::Running && s.spec_hash.as_ref() != Some(&first))
    })
    .await;
    let creations: Vec<Call> = d.fake.calls().into_iter().filter(|c| matches!(c, Call::CreateContainer(_))).collect();
    assert_eq!(creations.len(), 1, "one replacement for the burst: {creations:?}");
    let applied = d.fake.with_world(|w| {
        let t = &w.tenants[&"acme".parse::<TenantName>().unwrap()];
        t.container(&ContainerRole::Main).and_then(|c| c.applied.clone()).unwrap_or_default()
    });
    assert!(applied.contains("v3"), "the last edit runs: {applied}");
    assert_eq!(status.spec_hash, d.status("acme").unwrap().spec_hash);
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_apply_is_retried_after_a_growing_backoff_and_a_changed_spec_at_once() {
    let d = Daemon::start("resync_interval = \"1h\"", &[]);
    d.fake.fail_calls(|c| matches!(c, Call::CreateContainer(_)), "the engine refuses");
    let creates = |d: &Daemon| d.count(|c| matches!(c, Call::CreateContainer(_)));
    std::fs::write(d.tenants_dir().join("acme.yaml"), spec("acme", "v1")).unwrap();

    // Per try: how long after the previous one it comes, and the backoff it leaves behind.
    let tries = [(None, 10u64), (Some(10u64), 20), (Some(20), 40)];
    let mut last: Option<Instant> = None;
    for (i, (after, backoff)) in tries.into_iter().enumerate() {
        wait_for(&format!("try {i}"), Duration::from_secs(60), || (creates(&d) > i).then_some(())).await;
        let now = Instant::now();
        if let (Some(prev), Some(after)) = (last, after) {
            let since = now - prev;
            let expected = Duration::from_secs(after);
            // Retried once a tick (250 ms) finds the backoff over.
            assert!(since >= expected && since <= expected + Duration::from_millis(300), "try {i}: {since:?}");
        }
        last = Some(now);
        // Failed, saying why and when it is tried again.
        let status = wait_for_status(&d, "acme", Duration::from_secs(1), |s| {
            s.phase == Phase::Failed && s.next_retry_time.is_some()
        })
        .await;
        let ahead = status.next_retry_time.unwrap() - status.last_update_time.unwrap();
        let secs = backoff as i64;
        assert!(
            ahead > time::Duration::seconds(secs - 1) && ahead <= time::Duration::seconds(secs),
            "try {i}: next retry {ahead} ahead, expected {backoff} s"
        );
        assert!(status.last_error.as_deref().unwrap_or("").contains("the engine refuses"), "{status:#?}");
    }
    assert_eq!(creates(&d), 3, "no try before its backoff ended");

    // A changed spec does not wait out the backoff of the one that failed.
    let before = creates(&d);
    let changed_at = Instant::now();
    std::fs::write(d.tenants_dir().join("acme.yaml"), spec("acme", "v2")).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    wait_for("the changed spec to be tried", Duration::from_secs(5), || (creates(&d) > before).then_some(())).await;
    assert!(changed_at.elapsed() < Duration::from_secs(1), "{:?}", changed_at.elapsed());
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_runtime_that_does_not_answer_is_restarted_after_its_retries_with_growing_backoff() {
    // Outbound access allowed: the runtime's port is published on the host, so tenantd probes
    // it over HTTP, every 2 s. Nothing listens on that port here: every probe finds it down.
    let yaml = spec("acme", "hello")
        .replace("interval: 30s", "interval: 2s")
        .replace("startPeriod: 20s", "startPeriod: 2s")
        .replace("  network: { egress: deny }\n", "");
    let d = Daemon::start("", &[("acme", yaml)]);
    let restarts = |d: &Daemon| d.count(|c| matches!(c, Call::RestartContainer(_)));
    wait_for("acme's container to run", Duration::from_secs(10), || {
        (d.main_state("acme") == Some(ContainerState::Running)).then_some(())
    })
    .await;
    let started = Instant::now();
    let port = d.fake.with_world(|w| w.tenants[&"acme".parse::<TenantName>().unwrap()].endpoint_port());
    assert!(port.is_some(), "the tenant's port is published");

    // Failed probes show (tenantd's probe, not the fake engine's healthy verdict, is what counts
    // once the port is published); three of them 2 s apart get it restarted, and counted.
    let status = wait_for_status(&d, "acme", Duration::from_secs(60), |s| s.phase == Phase::Degraded).await;
    assert_eq!((status.health, status.supervisor_restarts), (Health::Unhealthy, 0), "{status:#?}");
    wait_for("a supervisor restart", Duration::from_secs(60), || (restarts(&d) == 1).then_some(())).await;
    let first = Instant::now();
    assert!(first - started >= Duration::from_secs(4), "restarted after {:?}", first - started);
    wait_for_status(&d, "acme", Duration::from_secs(1), |s| s.supervisor_restarts == 1).await;

    // Still down: the next restarts wait out the crash backoff, 10 s then 20 s.
    let mut previous = first;
    for (n, backoff) in [(2, 10), (3, 20)] {
        wait_for(&format!("restart {n}"), Duration::from_secs(60), || (restarts(&d) == n).then_some(())).await;
        let since = Instant::now() - previous;
        let expected = Duration::from_secs(backoff);
        assert!(since >= expected && since <= expected + Duration::from_millis(500), "restart {n} after {since:?}");
        previous = Instant::now();
    }
    wait_for_status(&d, "acme", Duration::from_secs(1), |s| s.supervisor_restarts == 3).await;
    d.stop().await;
}
