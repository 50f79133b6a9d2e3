//! `tenantd plan`: what apply would do, for every tenant or only the targeted ones.

use std::collections::BTreeSet;

use super::style::stdout_colour;
use super::Output;
use crate::config::DaemonConfig;
use crate::plan::{render_human_coloured, render_json};
use crate::reconcile::{run_pass, Desired, PassMemory, PassMode, PassOptions, PassScope};
use crate::runtime::ObservedWorld;
use crate::spec::TenantName;

pub async fn run(
    cfg: &DaemonConfig,
    output: Output,
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
        Output::Human => print!("{}", render_human_coloured(&plan, stdout_colour())),
        Output::Json => print!("{}", render_json(&plan)),
    }
    let mut printer = super::diagnostics::SpecErrorPrinter::new(super::diagnostics::Stream::Stderr);
    for i in desired.unattributed() {
        for e in &i.errors {
            printer.print(e);
        }
    }
    let errors = plan.has_blocked_tenants() || !desired.invalid_files.is_empty();
    Ok(if errors {
        1
    } else if detailed && plan.has_changes() {
        2
    } else {
        0
    })
}

/// The targets as tenant names; `None` when there are none (plan everything).
fn parse_targets(targets: &[String]) -> anyhow::Result<Option<BTreeSet<TenantName>>> {
    if targets.is_empty() {
        return Ok(None);
    }
    let names = targets
        .iter()
        .map(|t| t.parse::<TenantName>().map_err(|e| anyhow::anyhow!("--target {t:?} is not a tenant name: {e}")))
        .collect::<anyhow::Result<_>>()?;
    Ok(Some(names))
}

/// A target must have a spec file (valid or not) or objects on the runtime; otherwise it is
/// most likely a typo, and an empty plan would hide it.
fn check_targets_exist(d: &Desired, observed: &ObservedWorld, only: &BTreeSet<TenantName>) -> anyhow::Result<()> {
    let known =
        |t: &TenantName| d.tenants.contains_key(t) || d.invalid.contains_key(t) || observed.tenants.contains_key(t);
    let unknown: Vec<&TenantName> = only.iter().filter(|t| !known(t)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let candidates: Vec<&str> = d.tenants.keys().chain(d.invalid.keys()).map(TenantName::as_str).collect();
    let messages: Vec<String> = unknown
        .iter()
        .map(|t| (t.as_str(), crate::suggest::closest(t.as_str(), &candidates)))
        .map(|(t, close)| match close {
            Some(close) => format!("no tenant {t:?} (no spec file, nothing on the runtime); did you mean {close:?}?"),
            None => format!("no tenant {t:?} (no spec file, nothing on the runtime)"),
        })
        .collect();
    anyhow::bail!("{}", messages.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_tenant_names() {
        assert!(parse_targets(&[]).unwrap().is_none());
        assert_eq!(parse_targets(&["acme".into(), "acme".into()]).unwrap().unwrap().len(), 1);
        let err = parse_targets(&["Not A Name".into()]).unwrap_err().to_string();
        assert!(err.contains("is not a tenant name"), "{err}");
    }
}
