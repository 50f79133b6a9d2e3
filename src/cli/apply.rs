//! `tenantd apply`: converge every tenant once.

use std::io::IsTerminal;
use std::time::Duration;

use super::apply_progress::ApplyProgress;
use crate::config::DaemonConfig;
use crate::plan::{ChangeKind, Plan};
use crate::reconcile::{run_pass, PassMemory, PassMode, PassOptions, PassResult, PassScope, WaitPolicy};
use crate::status::ApplyFact;

pub async fn run(cfg: &DaemonConfig, no_wait: bool, wait_timeout: u64, allow_empty: bool) -> anyhow::Result<u8> {
    let runtime = super::connect(cfg).await?;
    let wait = WaitPolicy { enabled: !no_wait, max: Duration::from_secs(wait_timeout) };
    // A live display only for a person at a terminal; logs and pipes get the plain lines alone.
    let progress = std::sync::Arc::new(std::sync::OnceLock::new());
    let shown = progress.clone();
    let mode = PassMode::Converge {
        wait,
        progress: Box::new(move |plan: &Plan| {
            if !std::io::stdout().is_terminal() {
                return None;
            }
            let with_work = plan.tenants.iter().filter(|t| t.blocked.is_none() && !t.steps.is_empty()).count();
            Some(shown.get_or_init(|| ApplyProgress::start(with_work)).sink())
        }),
    };
    let mut memory = PassMemory::default();
    let scope = PassScope { only: None, specs_read: false, opts: PassOptions { allow_empty } };
    let pass = run_pass(cfg, runtime.as_ref(), &mut memory, scope, mode).await;
    if let Some(p) = progress.get() {
        p.clear();
    }
    let PassResult { plan, outcomes, .. } = pass?;
    let desired = memory.desired.unwrap_or_default();

    let mut failed = 0;
    let mut printer = super::diagnostics::SpecErrorPrinter::new(super::diagnostics::Stream::Stderr);
    for i in desired.unattributed() {
        failed += 1;
        for e in &i.errors {
            printer.print(e);
        }
    }
    for t in &plan.tenants {
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
