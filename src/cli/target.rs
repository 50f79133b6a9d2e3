//! Which container a day-2 command (`logs`, `restart`, `exec`) acts on: a tenant's runtime
//! container, or one of its sidecars by name, as the engine has them now.

use std::collections::BTreeSet;

use crate::config::DaemonConfig;
use crate::render::ContainerRole;
use crate::runtime::{ObservedContainer, ObservedWorld, Runtime};
use crate::spec::TenantName;
use crate::suggest::closest;

/// Why no container could be chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("{message}")]
    InvalidName { message: String },
    #[error("no tenant {name:?}{}; {}", did_you_mean(suggestion.as_deref()), known_list(known))]
    UnknownTenant { name: String, known: Vec<String>, suggestion: Option<String> },
    #[error("tenant {tenant} has no container (suspended, or not applied yet: see `tenantd plan`)")]
    NoContainer { tenant: String },
    #[error("tenant {tenant} has no runtime container now (see `tenantd status {tenant}`)")]
    NoMainContainer { tenant: String },
    #[error("tenant {tenant} has no sidecar {name:?}{}; {}", did_you_mean(suggestion.as_deref()), sidecar_list(sidecars))]
    UnknownSidecar { tenant: String, name: String, sidecars: Vec<String>, suggestion: Option<String> },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "this instance has no tenants".to_string()
    } else {
        format!("known tenants: {}", known.join(", "))
    }
}

fn sidecar_list(sidecars: &[String]) -> String {
    if sidecars.is_empty() {
        "it has none".to_string()
    } else {
        format!("its sidecars: {}", sidecars.join(", "))
    }
}

/// A tenant's container, chosen.
#[derive(Debug, Clone)]
pub struct Target {
    pub tenant: TenantName,
    pub container: ObservedContainer,
}

impl Target {
    /// How messages name it: `acme`, or `acme/db` for a sidecar.
    pub fn label(&self) -> String {
        match &self.container.role {
            ContainerRole::Main => self.tenant.to_string(),
            ContainerRole::Sidecar(name) => format!("{}/{name}", self.tenant),
            ContainerRole::Ingress => format!("{}/ingress", self.tenant),
        }
    }
}

/// Picks the container of `tenant` (its runtime, or `sidecar`) in `world`. `with_specs` are the
/// tenants that have a spec file, so a typo is told from a tenant that has no container yet.
pub fn pick(
    world: &ObservedWorld,
    with_specs: &BTreeSet<String>,
    tenant: &str,
    sidecar: Option<&str>,
) -> Result<Target, TargetError> {
    let name: TenantName =
        tenant.parse().map_err(|e: crate::spec::names::InvalidValue| TargetError::InvalidName { message: e.0 })?;
    let Some(observed) = world.tenants.get(&name) else {
        if with_specs.contains(tenant) {
            return Err(TargetError::NoContainer { tenant: tenant.to_string() });
        }
        let known: Vec<String> = world
            .tenants
            .keys()
            .map(|t| t.to_string())
            .chain(with_specs.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let suggestion = closest(tenant, &known).map(str::to_string);
        return Err(TargetError::UnknownTenant { name: tenant.to_string(), known, suggestion });
    };
    let role = match sidecar {
        None => ContainerRole::Main,
        // No sidecar may be named `ingress`: the name reaches the tenant's ingress.
        Some("ingress") => ContainerRole::Ingress,
        Some(s) => ContainerRole::Sidecar(s.to_string()),
    };
    match observed.container(&role) {
        Some(c) => Ok(Target { tenant: name, container: c.clone() }),
        None if sidecar.is_none() => Err(TargetError::NoMainContainer { tenant: tenant.to_string() }),
        None => {
            let sidecars: Vec<String> = observed
                .containers
                .iter()
                .filter_map(|c| match &c.role {
                    ContainerRole::Sidecar(n) => Some(n.clone()),
                    ContainerRole::Main | ContainerRole::Ingress => None,
                })
                .collect();
            let name = sidecar.unwrap_or_default().to_string();
            let suggestion = closest(&name, &sidecars).map(str::to_string);
            Err(TargetError::UnknownSidecar { tenant: tenant.to_string(), name, sidecars, suggestion })
        }
    }
}

/// Observes this instance and picks the container (see [`pick`]); the tenants with a spec are
/// read from the configured tenants_dir when it can be read.
pub async fn choose(
    cfg: &DaemonConfig,
    runtime: &dyn Runtime,
    tenant: &str,
    sidecar: Option<&str>,
) -> anyhow::Result<Target> {
    let world = runtime.observe(&[], &[]).await?;
    let with_specs: BTreeSet<String> = match crate::spec::load_dir(&cfg.tenants_dir) {
        Ok(set) => set
            .valid
            .keys()
            .map(|t| t.to_string())
            .chain(set.invalid.iter().filter_map(|i| i.tenant.as_ref().map(|t| t.to_string())))
            .collect(),
        // Only for the wording of an error: the engine's view is what counts.
        Err(e) => {
            tracing::debug!(error = %e, "tenants_dir not read");
            BTreeSet::new()
        }
    };
    Ok(pick(&world, &with_specs, tenant, sidecar)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ObservedTenant;

    fn world(tenants: &[(&str, &[&str])]) -> ObservedWorld {
        let mut w = ObservedWorld::default();
        for (name, sidecars) in tenants {
            let t: TenantName = name.parse().unwrap();
            let mut observed = ObservedTenant::empty(t.clone());
            let roles = std::iter::once(ContainerRole::Main)
                .chain(sidecars.iter().map(|s| ContainerRole::Sidecar(s.to_string())));
            for role in roles {
                observed.containers.push(container(&format!("{name}-{}", role.label()), role));
            }
            w.tenants.insert(t, observed);
        }
        w
    }

    fn container(id: &str, role: ContainerRole) -> ObservedContainer {
        ObservedContainer {
            id: id.to_string(),
            name: id.to_string(),
            role,
            image_ref: "img".into(),
            image_id: "sha256:1".into(),
            config_hash: None,
            field_hashes: Default::default(),
            spec_hash: None,
            applied: None,
            state: crate::runtime::ContainerState::Running,
            health: crate::runtime::EngineHealth::None,
            limits: crate::render::Limits::default(),
            host_port: None,
            restart_count: 0,
            started_at: None,
            networks: vec![],
            problem: None,
        }
    }

    #[test]
    fn the_runtime_or_a_named_sidecar_is_chosen() {
        let w = world(&[("acme", &["db"]), ("beta", &[])]);
        let specs = BTreeSet::new();
        assert_eq!(pick(&w, &specs, "acme", None).unwrap().container.id, "acme-main");
        let t = pick(&w, &specs, "acme", Some("db")).unwrap();
        assert_eq!((t.container.id.as_str(), t.label().as_str()), ("acme-sidecar.db", "acme/db"));
    }

    #[test]
    fn an_unknown_tenant_lists_the_known_ones_and_suggests_a_close_one() {
        let w = world(&[("acme", &[]), ("beta", &[])]);
        let specs = BTreeSet::from(["gamma".to_string()]);
        let e = pick(&w, &specs, "acm", None).unwrap_err();
        assert_eq!(e.to_string(), "no tenant \"acm\" (did you mean \"acme\"?); known tenants: acme, beta, gamma");
        let e = pick(&w, &specs, "zzzzzz", None).unwrap_err();
        assert_eq!(e.to_string(), "no tenant \"zzzzzz\"; known tenants: acme, beta, gamma");
        let e = pick(&ObservedWorld::default(), &BTreeSet::new(), "acme", None).unwrap_err();
        assert!(e.to_string().ends_with("this instance has no tenants"), "{e}");
        assert!(matches!(pick(&w, &specs, "Bad_Name", None), Err(TargetError::InvalidName { .. })));
    }

    #[test]
    fn a_tenant_with_a_spec_but_no_container_says_so() {
        let specs = BTreeSet::from(["acme".to_string()]);
        let e = pick(&ObservedWorld::default(), &specs, "acme", None).unwrap_err();
        assert_eq!(e, TargetError::NoContainer { tenant: "acme".into() });
    }

    #[test]
    fn an_unknown_sidecar_lists_the_tenants_sidecars() {
        let w = world(&[("acme", &["db", "cache"]), ("beta", &[])]);
        let e = pick(&w, &BTreeSet::new(), "acme", Some("dbb")).unwrap_err();
        assert_eq!(e.to_string(), "tenant acme has no sidecar \"dbb\" (did you mean \"db\"?); its sidecars: db, cache");
        let e = pick(&w, &BTreeSet::new(), "beta", Some("db")).unwrap_err();
        assert_eq!(e.to_string(), "tenant beta has no sidecar \"db\"; it has none");
    }
}
