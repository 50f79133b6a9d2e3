//! Load → observe → plan: everything up to the point where something would change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::ReconcileError;
use crate::config::DaemonConfig;
use crate::plan::{plan, Plan, PlanInput};
use crate::ports::{allocate, host_port_free, PortError};
use crate::render::{render, DesiredTenant};
use crate::runtime::{ObservedWorld, Runtime};
use crate::spec::{load_dir, SpecError, SpecSet, TenantName};

/// Options of one pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassOptions {
    /// Treat an empty or missing tenants directory as "no tenants", deleting every tenant.
    pub allow_empty: bool,
}

/// The result of load → observe → plan, kept for apply and status.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub specs: SpecSet,
    pub desired: BTreeMap<TenantName, DesiredTenant>,
    pub invalid: BTreeMap<TenantName, Vec<String>>,
    pub observed: ObservedWorld,
    pub ports: BTreeMap<TenantName, Result<u16, PortError>>,
    pub plan: Plan,
}

/// Reads the specs (files only).
pub fn load_specs(dir: &Path, opts: PassOptions) -> Result<SpecSet, ReconcileError> {
    match load_dir(dir) {
        Ok(set) => Ok(set),
        Err(SpecError::Dir { .. }) if opts.allow_empty && !dir.exists() => Ok(SpecSet::default()),
        Err(e) => Err(ReconcileError::TenantsDir {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

/// Loads, observes and plans for the whole instance.
pub async fn prepare(
    cfg: &DaemonConfig,
    runtime: &dyn Runtime,
    opts: PassOptions,
) -> Result<Prepared, ReconcileError> {
    let specs = load_specs(&cfg.tenants_dir, opts)?;
    let desired: BTreeMap<TenantName, DesiredTenant> = specs
        .valid
        .iter()
        .map(|(name, spec)| (name.clone(), render(spec, &cfg.instance)))
        .collect();
    let mut invalid: BTreeMap<TenantName, Vec<String>> = BTreeMap::new();
    for i in &specs.invalid {
        if let Some(t) = &i.tenant {
            invalid
                .entry(t.clone())
                .or_default()
                .extend(i.errors.iter().map(|e| e.to_string()));
        }
    }

    let images: Vec<String> = desired
        .values()
        .flat_map(|d| d.containers.iter().map(|c| c.image.reference().to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names: Vec<String> = desired
        .values()
        .flat_map(|d| {
            d.containers
                .iter()
                .map(|c| c.name.clone())
                .chain([d.network.name.clone()])
        })
        .collect();
    let observed = runtime
        .observe(&images, &names)
        .await
        .map_err(ReconcileError::Runtime)?;

    if specs.valid.is_empty()
        && specs.invalid.is_empty()
        && !observed.tenants.is_empty()
        && !opts.allow_empty
    {
        return Err(ReconcileError::EmptyTenantsDir {
            dir: cfg.tenants_dir.clone(),
            running: observed.tenants.len(),
        });
    }

    let hold = specs.invalid.iter().find(|i| i.tenant.is_none()).map(|i| {
        format!(
            "{} could not be attributed to a tenant, so no tenant without a spec is deleted",
            i.path.display()
        )
    });

    let existing = observed.host_ports();
    let wanted: BTreeSet<TenantName> = desired
        .values()
        .filter(|d| d.main().publish_port.is_some())
        .map(|d| d.name.clone())
        .collect();
    let ports = allocate(&wanted, &existing, &cfg.port_range, host_port_free);

    let plan = plan(PlanInput {
        desired: &desired,
        invalid: &invalid,
        hold_deletions: hold.as_deref(),
        observed: &observed,
        ports: &ports,
    });
    Ok(Prepared {
        specs,
        desired,
        invalid,
        observed,
        ports,
        plan,
    })
}
