//! The long-running daemon (`tenantd run`): triggers (file watch, engine events, periodic
//! resync), a per-tenant work queue with backoff, health supervision, signals and systemd
//! notification. It reconciles through the same plan/apply code as `tenantd apply`.

pub mod backoff;
mod controller;
pub mod memory;
pub mod metrics;
pub mod notify;
mod record;
mod signals;
pub mod supervise;
mod triggers;
mod worker;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::DaemonConfig;
use crate::reconcile::{owner, PassOptions, StateLock};
use crate::runtime::Runtime;
pub use controller::Controller;
use metrics::Metrics;
use notify::Notifier;
pub use signals::{Signal, Signals};
pub use triggers::Trigger;

/// How long in-flight tenant work may take to finish after SIGTERM before it is abandoned.
const DRAIN: Duration = Duration::from_secs(20);

/// Runs until `signals` says Terminate or Interrupt. Tenants keep running when it returns.
///
/// On Hangup, `load_config` reads the config file again; an invalid new config is refused and
/// the old one kept. `notifier` tells the service manager about readiness, reloads, stopping
/// and status.
pub async fn run(
    cfg: DaemonConfig,
    runtime: Arc<dyn Runtime>,
    load_config: impl Fn(&Path) -> anyhow::Result<DaemonConfig>,
    opts: PassOptions,
    mut signals: Signals,
    notifier: Arc<Notifier>,
) -> anyhow::Result<()> {
    let _lock = StateLock::acquire(&cfg.state_dir)?;

    // READY only once the engine answers: until then there is nothing tenantd can vouch for.
    let mut pause = Duration::from_millis(250);
    loop {
        match runtime.ping().await {
            Ok(()) => break,
            Err(e) => {
                notifier.status(&format!("waiting for the engine: {e}"));
                tracing::warn!(error = %e, "engine does not answer yet");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = signals.recv_stop() => return Ok(()),
        }
        pause = (pause * 2).min(Duration::from_secs(10));
    }

    // Another state directory converging this instance is refused at start; one that takes
    // over later makes every pass of this one refuse (see `Controller::pass`).
    match owner::claim(runtime.as_ref(), &cfg.instance, &cfg.state_dir).await {
        Ok(()) => {}
        Err(e @ owner::OwnerError::NotOwner { .. }) => return Err(e.into()),
        Err(e) => tracing::warn!(error = %e, "cannot record this state directory as the instance's owner yet"),
    }

    let metrics = Metrics::new();
    let (metrics_stop_tx, metrics_stop_rx) = tokio::sync::oneshot::channel::<()>();
    if let Some(addr) = cfg.daemon.metrics_address {
        let bound = metrics::serve(addr, metrics.clone(), async {
            let _ = metrics_stop_rx.await;
        })
        .await?;
        tracing::info!(address = %bound, "serving metrics");
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = start_watch(&cfg, tx.clone());
    let follower = triggers::follow_engine(runtime.clone(), tx.clone());
    let mut ctl = Controller::new(cfg, runtime, notifier.clone(), metrics, opts);
    notifier.ready();
    tracing::info!(instance = %ctl.cfg.instance, tenants_dir = %ctl.cfg.tenants_dir.display(), "tenantd is running");

    loop {
        // A pass waits for the engine (observe); a signal does not wait for the pass.
        tokio::select! {
            biased;
            _ = signals.recv_stop() => break,
            _ = ctl.step() => {}
        }
        let wake = ctl.next_wake();
        tokio::select! {
            signal = signals.recv() => {
                if signal.stops() {
                    break;
                }
                notifier.reloading();
                match load_config(&ctl.cfg.source).and_then(|new| reloadable(&ctl.cfg, new)) {
                    Ok(new) => {
                        let dir_changed = new.tenants_dir != ctl.cfg.tenants_dir;
                        tracing::info!(config = %new.source.display(), "configuration reloaded");
                        ctl.reconfigure(new);
                        if dir_changed {
                            watcher = start_watch(&ctl.cfg, tx.clone());
                        }
                    }
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "new configuration refused; keeping the old one"),
                }
                notifier.ready();
            }
            Some(t) = rx.recv() => ctl.trigger(t),
            Some(done) = ctl.done_rx.recv() => ctl.worker_done(done),
            Some(o) = ctl.obs_rx.recv() => ctl.observed(o),
            Some(l) = ctl.load_rx.recv() => ctl.loaded(l).await,
            _ = tokio::time::sleep_until(wake) => {}
        }
        // Take whatever else has arrived before the next step: one pass for a burst of events.
        while let Ok(t) = rx.try_recv() {
            ctl.trigger(t);
        }
        while let Ok(done) = ctl.done_rx.try_recv() {
            ctl.worker_done(done);
        }
        while let Ok(o) = ctl.obs_rx.try_recv() {
            ctl.observed(o);
        }
    }

    notifier.stopping();
    ctl.begin_stop();
    tracing::info!(in_flight = ctl.busy(), "stopping; tenants keep running");
    drop(watcher);
    follower.abort();
    let deadline = tokio::time::Instant::now() + DRAIN;
    while ctl.busy() > 0 {
        tokio::select! {
            Some(done) = ctl.done_rx.recv() => ctl.worker_done(done),
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(in_flight = ctl.busy(), "abandoning unfinished tenant work");
                break;
            }
        }
    }
    let _ = metrics_stop_tx.send(());
    Ok(())
}

/// `new`, when a reload may switch to it: the engine connection (and the host firewall made
/// with it), the state lock and the metrics listener are set up once at start, so a reload that
/// changed what they were made from would be applied only half (tenants renamed under a
/// connection still scoped to the old instance, status files written outside the lock). Those
/// settings need a restart.
fn reloadable(old: &DaemonConfig, new: DaemonConfig) -> anyhow::Result<DaemonConfig> {
    let same_registries = old.registries.len() == new.registries.len()
        && old
            .registries
            .iter()
            .zip(&new.registries)
            .all(|(a, b)| a.server == b.server && a.username == b.username && a.password == b.password);
    let fixed = [
        ("instance", old.instance == new.instance),
        ("runtime", old.runtime == new.runtime),
        ("docker.host", old.docker_host == new.docker_host),
        ("docker.network_pool, docker.network_prefix", old.docker_subnets == new.docker_subnets),
        ("kubernetes.kubeconfig", old.kubernetes.kubeconfig == new.kubernetes.kubeconfig),
        ("kubernetes.context", old.kubernetes.context == new.kubernetes.context),
        ("kubernetes.in_cluster", old.kubernetes.in_cluster == new.kubernetes.in_cluster),
        ("registries", same_registries),
        ("state_dir", old.state_dir == new.state_dir),
        ("daemon.metrics_address", old.daemon.metrics_address == new.daemon.metrics_address),
        // The host firewall is made with the engine connection.
        ("network.host_firewall, network.host_allow", old.network == new.network),
    ];
    let changed: Vec<&str> = fixed.iter().filter(|(_, same)| !same).map(|(name, _)| *name).collect();
    if !changed.is_empty() {
        anyhow::bail!("{} cannot change while tenantd runs; restart it to apply", changed.join(", "));
    }
    Ok(new)
}

fn start_watch(cfg: &DaemonConfig, tx: mpsc::UnboundedSender<Trigger>) -> Option<triggers::DirWatcher> {
    match triggers::watch_dir(&cfg.tenants_dir, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(dir = %cfg.tenants_dir.display(), error = %e, "cannot watch the tenants directory; relying on the periodic resync");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DaemonConfig {
        DaemonConfig::parse(text, Path::new("/etc/tenantd/tenantd.toml"), None).unwrap()
    }

    const BASE: &str = "tenants_dir = \"t\"\nstate_dir = \"s\"\n";

    #[test]
    fn a_reload_may_change_how_tenants_are_converged() {
        let new = config(
            "tenants_dir = \"u\"\nstate_dir = \"s\"\nconcurrency = 2\nport_range = [20000, 20010]\n\
             [daemon]\nresync_interval = \"5m\"\n",
        );
        let kept = reloadable(&config(BASE), new).unwrap();
        assert_eq!((kept.concurrency, kept.tenants_dir), (2, std::path::PathBuf::from("/etc/tenantd/u")));
    }

    #[test]
    fn a_reload_may_not_change_what_was_set_up_at_start() {
        for (extra, field) in [
            ("instance = \"other\"\n", "instance"),
            ("runtime = \"kubernetes\"\n", "runtime"),
            ("[docker]\nhost = \"tcp://127.0.0.1:2375\"\n", "docker.host"),
            ("[[registries]]\nserver = \"r.example\"\nusername = \"u\"\npassword = \"p\"\n", "registries"),
            ("[daemon]\nmetrics_address = \"127.0.0.1:9100\"\n", "daemon.metrics_address"),
            ("[network]\nhost_allow = [\"tcp/9123\"]\n", "network.host_firewall, network.host_allow"),
            ("[network]\nhost_firewall = \"external\"\n", "network.host_firewall, network.host_allow"),
        ] {
            let e = reloadable(&config(BASE), config(&format!("{BASE}{extra}"))).unwrap_err().to_string();
            assert!(e.starts_with(field) && e.contains("restart"), "{extra}: {e}");
        }
        let moved = config("tenants_dir = \"t\"\nstate_dir = \"elsewhere\"\n");
        assert!(reloadable(&config(BASE), moved).unwrap_err().to_string().contains("state_dir"));
    }
}
