//! `tenantd plan`: what apply would do, for every tenant or only the targeted ones.

use super::exit;
use super::output::{document, OutputFormat};
use super::scope::{check_targets_exist, parse_targets};
use super::style::stdout_colour;
use crate::config::DaemonConfig;
use crate::plan::{plan_document, render_human_coloured};
use crate::reconcile::{run_pass, PassMemory, PassMode, PassOptions, PassScope};

pub async fn run(
    cfg: &DaemonConfig,
    output: OutputFormat,
    detailed: bool,
    allow_empty: bool,
    targets: &[String],
) -> anyhow::Result<u8> {
    let opts = PassOptions { allow_empty };
    let only = parse_targets(targets)?;
    let runtime = super::connect(cfg).await?;
    let mut memory = PassMemory::default();
    let scope = PassScope { only: only.clone(), specs_read: false, opts };
    let plan = run_pass(cfg, runtime.as_ref(), &mut memory, scope, PassMode::Preview).await?.plan;
    let desired = memory.desired.unwrap_or_default();
    if let Some(only) = &only {
        check_targets_exist(&desired, &memory.world, only)?;
    }
    match output {
        OutputFormat::Table => print!("{}", render_human_coloured(&plan, stdout_colour())),
        machine => print!("{}", document(machine, &plan_document(&plan))?),
    }
    let mut printer = super::diagnostics::SpecErrorPrinter::new(super::diagnostics::Stream::Stderr);
    for i in desired.unattributed() {
        for e in &i.errors {
            printer.print(e);
        }
    }
    let errors = plan.has_blocked_tenants() || !desired.invalid_files.is_empty();
    Ok(if errors {
        exit::FAILURE
    } else if detailed && plan.has_changes() {
        exit::CHANGES_PENDING
    } else {
        exit::SUCCESS
    })
}
