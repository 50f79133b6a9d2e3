//! `tenantd apply`: converge every tenant (or the `--target`ed ones) once.

use std::io::IsTerminal;
use std::time::Duration;

use serde::Serialize;

use super::apply_log::{ApplyLog, LogStream};
use super::apply_progress::ApplyProgress;
use super::output::{document, OutputFormat, OUTPUT_FORMAT_VERSION};
use super::scope::{check_targets_exist, parse_targets};
use crate::config::DaemonConfig;
use crate::plan::{ChangeKind, Plan, TenantPlan};
use crate::reconcile::{run_pass, PassMemory, PassMode, PassOptions, PassResult, PassScope, TenantOutcome, WaitPolicy};
use crate::status::ApplyFact;

/// What `apply` was asked to do.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub no_wait: bool,
    pub wait_timeout: Duration,
    pub allow_empty: bool,
    pub targets: Vec<String>,
    pub output: OutputFormat,
}

/// How one tenant ended, as `-o json|yaml` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Result {
    Created,
    UpdatedInPlace,
    Replaced,
    Deleted,
    Unchanged,
    /// Blocked by its spec or a rule (see `tenantd plan`); nothing was changed.
    LeftAsIs,
    /// A deletion held back by the deletion guard; not a failure.
    DeletionHeld,
    Failed,
    RolledBack,
}

/// One tenant's line of the result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantResult {
    tenant: String,
    change: ChangeKind,
    result: Result,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replace_fields: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// The whole result of `apply -o json|yaml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplyDocument {
    format_version: u32,
    tenants: Vec<TenantResult>,
    /// Spec files that could not be read as a tenant's (their problems are printed on stderr).
    invalid_files: Vec<String>,
    /// Tenants and spec files that did not converge; the exit code is 1 when not 0.
    failed: usize,
}

pub async fn run(cfg: &DaemonConfig, opts: ApplyOptions) -> anyhow::Result<u8> {
    let only = parse_targets(&opts.targets)?;
    let runtime = super::connect(cfg).await?;
    let pass_opts = PassOptions { allow_empty: opts.allow_empty };
    if let Some(only) = &only {
        // Checked before anything changes: a misspelt target fails with a suggestion rather
        // than converging the others first.
        let mut memory = PassMemory::default();
        let scope = PassScope { only: Some(only.clone()), specs_read: false, opts: pass_opts };
        run_pass(cfg, runtime.as_ref(), &mut memory, scope, PassMode::Preview).await?;
        check_targets_exist(&memory.desired.unwrap_or_default(), &memory.world, only)?;
    }
    let wait = WaitPolicy { enabled: !opts.no_wait, max: opts.wait_timeout };
    // A live display only for a person at a terminal; off a terminal, plain lines as each step
    // begins and while one lasts; on stderr when stdout holds the document.
    let live = !opts.output.is_machine() && std::io::stdout().is_terminal();
    let stream = if opts.output.is_machine() { LogStream::Stderr } else { LogStream::Stdout };
    let display = std::sync::Arc::new(std::sync::OnceLock::new());
    let shown = display.clone();
    let (log, ticker) = if live {
        (None, None)
    } else {
        let (log, ticker) = ApplyLog::start(stream);
        (Some(log), Some(ticker))
    };
    let log_sink = log.as_ref().map(ApplyLog::sink);
    let mode = PassMode::Converge {
        wait,
        progress: Box::new(move |plan: &Plan| {
            if !live {
                return log_sink;
            }
            let with_work = plan.tenants.iter().filter(|t| t.blocked.is_none() && !t.steps.is_empty()).count();
            Some(shown.get_or_init(|| ApplyProgress::start(with_work)).sink())
        }),
    };
    let mut memory = PassMemory::default();
    let scope = PassScope { only, specs_read: false, opts: pass_opts };
    let pass = run_pass(cfg, runtime.as_ref(), &mut memory, scope, mode).await;
    if let Some(p) = display.get() {
        p.clear();
    }
    if let Some(t) = ticker {
        t.abort();
    }
    drop(log);
    let PassResult { plan, outcomes, .. } = pass?;
    let desired = memory.desired.unwrap_or_default();

    let mut printer = super::diagnostics::SpecErrorPrinter::new(super::diagnostics::Stream::Stderr);
    let mut invalid_files = Vec::new();
    for i in desired.unattributed() {
        invalid_files.push(i.path.display().to_string());
        for e in &i.errors {
            printer.print(e);
        }
    }
    let results: Vec<TenantResult> = plan.tenants.iter().map(|t| result_of(t, outcomes.get(&t.tenant))).collect();
    let failed = invalid_files.len()
        + results.iter().filter(|r| matches!(r.result, Result::Failed | Result::RolledBack | Result::LeftAsIs)).count();
    if opts.output.is_machine() {
        let doc = ApplyDocument { format_version: OUTPUT_FORMAT_VERSION, tenants: results, invalid_files, failed };
        print!("{}", document(opts.output, &doc)?);
    } else {
        for r in &results {
            println!("{}: {}", r.tenant, line(r));
        }
    }
    if failed > 0 {
        eprintln!("{failed} tenant(s) or spec file(s) did not converge; see `tenantd status` and `tenantd plan`");
    }
    Ok(super::exit::failure_if(failed > 0))
}

fn result_of(t: &TenantPlan, outcome: Option<&TenantOutcome>) -> TenantResult {
    let (result, message) = match outcome.map(|o| &o.fact) {
        Some(ApplyFact::Failed { message, .. }) => (Result::Failed, Some(message.clone())),
        Some(ApplyFact::RolledBack { message }) => (Result::RolledBack, Some(message.clone())),
        Some(ApplyFact::Blocked(_)) | None if t.change == ChangeKind::Blocked => match t.blocked {
            Some(crate::plan::Blocked::DeletionHeld { .. }) => (Result::DeletionHeld, None),
            _ => (Result::LeftAsIs, None),
        },
        Some(ApplyFact::NothingToDo) => (Result::Unchanged, None),
        _ => (
            match t.change {
                ChangeKind::Create => Result::Created,
                ChangeKind::UpdateInPlace => Result::UpdatedInPlace,
                ChangeKind::Replace => Result::Replaced,
                ChangeKind::Delete => Result::Deleted,
                ChangeKind::NoChange => Result::Unchanged,
                ChangeKind::Blocked => Result::LeftAsIs,
            },
            None,
        ),
    };
    let replace_fields = if result == Result::Replaced { t.replace_fields.clone() } else { Vec::new() };
    TenantResult { tenant: t.tenant.to_string(), change: t.change, result, replace_fields, message }
}

/// The plain line for one tenant.
fn line(r: &TenantResult) -> String {
    let message = r.message.as_deref().unwrap_or_default();
    match r.result {
        Result::Failed => format!("failed: {message}"),
        Result::RolledBack => format!("rolled back, the previous container runs again: {message}"),
        Result::LeftAsIs | Result::DeletionHeld => "left as it is (see `tenantd plan`)".to_string(),
        Result::Unchanged => "unchanged".to_string(),
        Result::Created => "created".to_string(),
        Result::UpdatedInPlace => "updated in place".to_string(),
        Result::Replaced => format!("replaced ({})", r.replace_fields.join(", ")),
        Result::Deleted => "deleted (volumes kept)".to_string(),
    }
}
