//! `tenantd plan`: what apply would do.

use super::Output;
use crate::config::DaemonConfig;
use crate::plan::{render_human, render_json};
use crate::reconcile::{prepare, PassOptions};

pub async fn run(
    cfg: &DaemonConfig,
    output: Output,
    detailed: bool,
    allow_empty: bool,
    targets: &[String],
) -> anyhow::Result<u8> {
    let _ = targets;
    let runtime = super::connect(cfg).await?;
    let prepared = prepare(cfg, runtime.as_ref(), PassOptions { allow_empty }).await?;
    match output {
        Output::Human => print!("{}", render_human(&prepared.plan)),
        Output::Json => print!("{}", render_json(&prepared.plan)),
    }
    let mut printer = super::diagnostics::SpecErrorPrinter::new(super::diagnostics::Stream::Stderr);
    for i in prepared.desired.unattributed() {
        for e in &i.errors {
            printer.print(e);
        }
    }
    let errors = prepared.plan.has_blocked_tenants() || !prepared.desired.invalid_files.is_empty();
    Ok(if errors {
        1
    } else if detailed && prepared.plan.has_changes() {
        2
    } else {
        0
    })
}
