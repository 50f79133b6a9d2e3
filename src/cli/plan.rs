//! `tenantd plan`: what apply would do.

use super::Output;
use crate::config::DaemonConfig;
use crate::plan::{render_human, render_json, ChangeKind};
use crate::reconcile::{prepare, PassOptions};

pub async fn run(cfg: &DaemonConfig, output: Output, detailed: bool, allow_empty: bool) -> anyhow::Result<u8> {
    let runtime = super::connect(cfg).await?;
    let prepared = prepare(cfg, runtime.as_ref(), PassOptions { allow_empty }).await?;
    match output {
        Output::Human => print!("{}", render_human(&prepared.plan)),
        Output::Json => print!("{}", render_json(&prepared.plan)),
    }
    let invalid = prepared.plan.count(ChangeKind::Blocked) > prepared.plan.tenants.iter().filter(|t| matches!(t.blocked, Some(crate::plan::Blocked::DeletionHeld { .. }))).count()
        || !prepared.specs.invalid.is_empty();
    Ok(if invalid {
        1
    } else if detailed && prepared.plan.has_changes() {
        2
    } else {
        0
    })
}
