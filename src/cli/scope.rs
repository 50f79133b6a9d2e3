//! Which tenants a command covers when it is given `--target`s: names checked to be tenant
//! names, and each one known (a spec file, valid or not, or objects on the runtime), so that a
//! typo fails with a suggestion instead of passing as an empty plan.

use std::collections::BTreeSet;

use crate::reconcile::Desired;
use crate::runtime::ObservedWorld;
use crate::spec::TenantName;

/// The targets as tenant names; `None` when there are none (plan everything).
pub fn parse_targets(targets: &[String]) -> anyhow::Result<Option<BTreeSet<TenantName>>> {
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
pub fn check_targets_exist(d: &Desired, observed: &ObservedWorld, only: &BTreeSet<TenantName>) -> anyhow::Result<()> {
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
