//! `tenantd apply`: converge every tenant once.

use std::io::IsTerminal;
use std::time::Duration;

use time::OffsetDateTime;

use super::apply_progress::ApplyProgress;
use crate::config::DaemonConfig;
use crate::plan::ChangeKind;
use crate::reconcile::{
    execute_reporting, observe_after, owner, prepare, probe_running, write_statuses, PassOptions, StateLock, WaitPolicy,
};
use crate::status::{ApplyFact, StatusStore};

pub async fn run(cfg: &DaemonConfig, no_wait: bool, wait_timeout: u64, allow_empty: bool) -> anyhow::Result<u8> {
    let _lock = StateLock::acquire(&cfg.state_dir)?;
    let runtime = super::connect(cfg).await?;
    owner::claim(runtime.as_ref(), &cfg.instance, &cfg.state_dir).await?;
    let prepared = prepare(cfg, runtime.as_ref(), PassOptions { allow_empty }).await?;
    // Before anything changes: the host rules for the networks there are now.
    runtime.sync_host_rules().await?;
    let wait = WaitPolicy { enabled: !no_wait, max: Duration::from_secs(wait_timeout) };
    let files = Some(crate::reconcile::FileDelivery::new(cfg));
    // A live display only for a person at a terminal; logs and pipes get the plain lines alone.
    let progress = std::io::stdout().is_terminal().then(|| {
        let with_work = prepared.plan.tenants.iter().filter(|t| t.blocked.is_none() && !t.steps.is_empty()).count();
        ApplyProgress::start(with_work)
    });
    let sink = progress.as_ref().map(ApplyProgress::sink);
    let outcomes =
        execute_reporting(runtime.as_ref(), &prepared.plan, cfg.concurrency, &cfg.port_range, wait, files, sink).await;
    if let Some(p) = &progress {
        p.clear();
    }

    let changed: Vec<_> = outcomes.iter().filter(|(_, o)| o.mutated).map(|(t, _)| t.clone()).collect();
    let after = observe_after(runtime.as_ref(), &prepared.observed, &changed).await?;
    let after = after.as_ref();
    let probes = probe_running(&prepared.desired.tenants, after).await;
    let store = StatusStore::new(cfg.status_dir());
    let engine = runtime.engine();
    write_statuses(&store, &prepared, &outcomes, after, &probes, engine.as_ref(), OffsetDateTime::now_utc())?;

    let mut failed = 0;
    let mut printer = super::diagnostics::SpecErrorPrinter::new(super::diagnostics::Stream::Stderr);
    for i in prepared.desired.unattributed() {
        failed += 1;
        for e in &i.errors {
            printer.print(e);
        }
    }
    for t in &prepared.plan.tenants {
        let outcome = outcomes.get(&t.tenant);
        let line = match outcome.map(|o| &o.fact) {
            Some(ApplyFact::Failed { message, .. }) => {
                failed += 1;
                format!("failed: {message}")
            }
            Some(ApplyFact::RolledBack { message }) => {
                failed += 1;
                format!("rolled back, the previous container runs again: {message}")
            }
            Some(ApplyFact::Blocked(_)) | None if t.change == ChangeKind::Blocked => {
                failed += usize::from(!matches!(t.blocked, Some(crate::plan::Blocked::DeletionHeld { .. })));
                "left as it is (see `tenantd plan`)".to_string()
            }
            Some(ApplyFact::NothingToDo) => "unchanged".to_string(),
            _ => match t.change {
                ChangeKind::Create => "created".to_string(),
                ChangeKind::UpdateInPlace => "updated in place".to_string(),
                ChangeKind::Replace => format!("replaced ({})", t.replace_fields.join(", ")),
                ChangeKind::Delete => "deleted (volumes kept)".to_string(),
                ChangeKind::NoChange => "unchanged".to_string(),
                ChangeKind::Blocked => "left as it is".to_string(),
            },
        };
        println!("{}: {line}", t.tenant);
    }
    if failed > 0 {
        eprintln!("{failed} tenant(s) or spec file(s) did not converge; see `tenantd status` and `tenantd plan`");
        Ok(1)
    } else {
        Ok(0)
    }
}
