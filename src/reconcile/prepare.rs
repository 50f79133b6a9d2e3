//! Load → observe → plan: everything up to the point where something would change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::FileDelivery;
use super::ReconcileError;
use crate::config::DaemonConfig;
use crate::plan::{plan, Plan, PlanInput, RolledBack};
use crate::ports::{allocate, host_port_free, PortAssignments};
use crate::render::kubernetes::KubeOptions;
use crate::render::{render_for, DesiredTenant, FileHashes, FileRoots, ImageSource};
use crate::runtime::{ObservedWorld, Runtime};
use crate::spec::{
    earlier_context_digest, load_dir_reusing, FileStamp, InvalidSpec, InvalidText, Known, SpecError, SpecSet,
    TenantName,
};
use crate::status::{SpecFact, StatusStore, TenantStatus};

/// Options of one pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassOptions {
    /// Treat an empty or missing tenants directory as "no tenants", deleting every tenant.
    pub allow_empty: bool,
}

/// The specs of a pass, rendered. The parsed files themselves are not kept: a daemon holds this
/// between passes, and what it renders is all a plan needs.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    /// Shared with the plans made from them: a plan holds the desired state it converges to.
    pub tenants: BTreeMap<TenantName, Arc<DesiredTenant>>,
    /// Tenants whose file is invalid, with the messages.
    pub invalid: BTreeMap<TenantName, Vec<String>>,
    /// The file each valid tenant was read from, as the tenants directory was named.
    pub sources: BTreeMap<TenantName, PathBuf>,
    /// The tenants directory as the loader resolved it (canonical) before listing it: statuses
    /// name a spec file by its name in it.
    listed_dir: PathBuf,
    /// Every invalid file, including those whose tenant cannot be told.
    pub invalid_files: Vec<InvalidSpec>,
    /// What a later read may take over without reading again: the stamp of each valid tenant's
    /// file (tenants with a build context are left out: their context can change on its own),
    /// and what the tenants were rendered for.
    reusable: BTreeMap<TenantName, FileStamp>,
    /// Files invalid by their text alone: taken over too while their stamp stays the same, so
    /// a file that costs a lot to read is read once, not on every pass.
    invalid_texts: BTreeMap<PathBuf, InvalidText>,
    rendered_for: Option<(TenantName, FileRoots, Option<KubeOptions>)>,
}

impl Desired {
    /// Reads and renders the specs in the configured directory (files only).
    pub fn load(cfg: &DaemonConfig, opts: PassOptions) -> Result<Self, ReconcileError> {
        Self::read(cfg, opts, None)
    }

    /// Like [`Desired::load`], but a file unchanged since `previous` read it (same stamp) is not
    /// read or rendered again: its tenant is taken over. A full pass of the daemon thus costs
    /// little for files nobody touched.
    pub fn reload(cfg: &DaemonConfig, opts: PassOptions, previous: &Desired) -> Result<Self, ReconcileError> {
        Self::read(cfg, opts, Some(previous))
    }

    fn read(cfg: &DaemonConfig, opts: PassOptions, previous: Option<&Desired>) -> Result<Self, ReconcileError> {
        let roots = cfg.file_roots();
        let rendered_for = (cfg.instance.clone(), roots.clone(), cfg.cluster().cloned());
        let previous = previous.filter(|p| p.rendered_for.as_ref() == Some(&rendered_for));
        let by_path: std::collections::HashMap<&Path, &TenantName> = previous
            .map(|p| p.reusable.keys().filter_map(|t| Some((p.sources.get(t)?.as_path(), t))).collect())
            .unwrap_or_default();
        let reuse = |path: &Path, stamp: &FileStamp| -> Option<Known> {
            let previous = previous?;
            if let Some(known) = previous.invalid_texts.get(path).filter(|k| k.stamp == *stamp) {
                return Some(Known::Invalid(known.clone()));
            }
            let name = *by_path.get(path)?;
            (previous.reusable.get(name) == Some(stamp)).then(|| Known::Valid(name.clone()))
        };
        let specs = load_specs(&cfg.tenants_dir, opts, &reuse)?;
        let mut tenants: BTreeMap<TenantName, Arc<DesiredTenant>> = specs
            .valid
            .iter()
            .map(|(name, spec)| (name.clone(), Arc::new(render_for(spec, &cfg.instance, &roots, cfg.cluster()))))
            .collect();
        let mut sources: BTreeMap<TenantName, PathBuf> =
            specs.valid.iter().map(|(name, spec)| (name.clone(), spec.path.clone())).collect();
        for (name, path) in &specs.reused {
            if let Some(t) = previous.and_then(|p| p.tenants.get(name)) {
                tenants.insert(name.clone(), Arc::clone(t));
                sources.insert(name.clone(), path.clone());
            }
        }
        let stamp_of = |name: &TenantName| sources.get(name).and_then(|p| specs.stamps.get(p)).copied();
        let reusable = sources
            .keys()
            .filter(|name| specs.valid.get(*name).is_none_or(|s| s.contexts.is_empty()))
            .filter_map(|name| Some((name.clone(), stamp_of(name)?)))
            .collect();
        let mut invalid: BTreeMap<TenantName, Vec<String>> = BTreeMap::new();
        for i in &specs.invalid {
            if let Some(t) = &i.tenant {
                invalid.entry(t.clone()).or_default().extend(i.errors.iter().map(|e| e.to_string()));
            }
        }
        let mut desired = Self {
            tenants,
            invalid,
            sources,
            listed_dir: specs.dir,
            invalid_files: specs.invalid,
            reusable,
            invalid_texts: specs.invalid_texts,
            rendered_for: Some(rendered_for),
        };
        desired.check_secrets(cfg);
        Ok(desired)
    }

    /// No spec file at all, valid or not.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.invalid_files.is_empty()
    }

    /// Invalid files whose tenant cannot be told.
    pub fn unattributed(&self) -> impl Iterator<Item = &InvalidSpec> {
        self.invalid_files.iter().filter(|i| i.tenant.is_none())
    }

    /// What the specs say about one tenant, for its status.
    pub fn spec_fact(&self, name: &TenantName) -> SpecFact {
        if let Some(messages) = self.invalid.get(name) {
            let source = self
                .invalid_files
                .iter()
                .find(|i| i.tenant.as_ref() == Some(name))
                .map(|i| self.status_source(&i.path));
            return SpecFact::Invalid { messages: messages.clone(), source };
        }
        match self.tenants.get(name) {
            Some(d) => SpecFact::Valid {
                spec_hash: d.spec_hash.clone(),
                source: self.sources.get(name).map(|p| self.status_source(p)).unwrap_or_default(),
                suspended: d.suspended,
            },
            None => SpecFact::Absent,
        }
    }

    /// How a status names the spec file at `path` (one the loader listed): absolute and
    /// normalised, as its name in the canonical tenants directory, however the config named that
    /// directory (`conf/../tenants.d`). Nothing is resolved again, so a symlink in the directory
    /// is named as the entry it is, never followed. Status only: nothing compares it.
    fn status_source(&self, path: &Path) -> String {
        match path.file_name() {
            Some(name) if self.listed_dir.is_absolute() => self.listed_dir.join(name),
            _ => path.to_path_buf(),
        }
        .display()
        .to_string()
    }

    /// Image references the desired tenants use, where the runtime makes images available.
    pub fn images(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.tenants.values().flat_map(|d| d.images()).collect();
        set.into_iter().collect()
    }

    /// Names the desired tenants need on the runtime.
    pub fn names(&self) -> Vec<String> {
        self.tenants.values().flat_map(|d| d.wanted_names()).collect()
    }

    /// Why deletions are held back this pass: an invalid file whose tenant cannot be told.
    pub fn hold_deletions(&self) -> Option<String> {
        self.unattributed().next().map(|i| {
            format!("{} could not be attributed to a tenant, so no tenant without a spec is deleted", i.path.display())
        })
    }
}

/// Reads the specs (files only).
pub fn load_specs(
    dir: &Path,
    opts: PassOptions,
    reuse: &dyn Fn(&Path, &FileStamp) -> Option<Known>,
) -> Result<SpecSet, ReconcileError> {
    match load_dir_reusing(dir, reuse) {
        Ok(set) => Ok(set),
        Err(SpecError::Dir { .. }) if opts.allow_empty && !dir.exists() => Ok(SpecSet::default()),
        Err(e) => Err(ReconcileError::TenantsDir { dir: dir.to_path_buf(), message: e.to_string() }),
    }
}

/// The rolled-back desired states recorded in status files.
pub fn rolled_back(store: &StatusStore) -> BTreeMap<TenantName, RolledBack> {
    rolled_back_of(&store.read_all().unwrap_or_default())
}

/// The host port each tenant's endpoint had when its status was last written.
pub fn endpoints_of(statuses: &BTreeMap<TenantName, TenantStatus>) -> BTreeMap<TenantName, u16> {
    statuses.iter().filter_map(|(t, s)| Some((t.clone(), s.host_port?))).collect()
}

/// What the status files say beyond the engine: the specs rolled back, and the ports tenants'
/// endpoints had.
#[derive(Debug, Clone, Copy)]
pub struct KnownState<'a> {
    pub rolled_back: &'a BTreeMap<TenantName, RolledBack>,
    pub endpoints: &'a BTreeMap<TenantName, u16>,
}

/// The rolled-back desired states of these statuses.
pub fn rolled_back_of(statuses: &BTreeMap<TenantName, TenantStatus>) -> BTreeMap<TenantName, RolledBack> {
    statuses
        .iter()
        .filter_map(|(t, s)| {
            let rb = s.rolled_back.as_ref()?;
            Some((t.clone(), RolledBack { spec_hash: rb.spec_hash.clone(), reason: rb.reason.clone() }))
        })
        .collect()
}

/// Observes `names` one by one into `world`, which keeps what it knew of every other tenant.
pub async fn observe_some(
    runtime: &dyn Runtime,
    world: &mut ObservedWorld,
    names: &BTreeSet<TenantName>,
    desired: &Desired,
) -> Result<(), crate::runtime::RuntimeError> {
    for name in names {
        let (images, wanted): (Vec<String>, Vec<String>) = match desired.tenants.get(name) {
            Some(d) => (d.images(), d.wanted_names()),
            None => (vec![], vec![]),
        };
        let mut one = runtime.observe_tenant(name, &images, &wanted).await?;
        match one.tenants.remove(name) {
            Some(t) => world.tenants.insert(name.clone(), t),
            None => world.tenants.remove(name),
        };
        world.images.extend(one.images);
        world.limit_updates = one.limit_updates;
        world.foreign.retain(|f| !wanted.contains(&f.name));
        world.foreign.extend(one.foreign);
    }
    Ok(())
}

/// Plans the tenants in `only` (`None`: all of them) against the whole instance's observed
/// state, without copying either. Host ports of tenants outside the scope stay held.
pub fn plan_scoped(
    cfg: &DaemonConfig,
    desired: &Desired,
    observed: &ObservedWorld,
    known: KnownState<'_>,
    opts: PassOptions,
    only: Option<&BTreeSet<TenantName>>,
) -> Result<(PortAssignments, Plan), ReconcileError> {
    let rolled_back = known.rolled_back;
    // Targeted passes too: one that follows an engine event after the directory went empty
    // would otherwise delete the tenant it looks at.
    if desired.is_empty() && !observed.tenants.is_empty() && !opts.allow_empty {
        return Err(ReconcileError::EmptyTenantsDir { dir: cfg.tenants_dir.clone(), running: observed.tenants.len() });
    }
    let hold = desired.hold_deletions();
    // What was delivered is read here, next to the host's free ports: the rest is pure.
    let files = FileDelivery::new(cfg);
    let delivered: BTreeMap<TenantName, FileHashes> = match only {
        None => files.delivered_all(),
        Some(names) => names.iter().filter_map(|t| files.delivered(t).map(|d| (t.clone(), d))).collect(),
    };
    let wanted: BTreeSet<TenantName> = desired
        .tenants
        .values()
        .filter(|d| d.main().publish_port.is_some() && only.is_none_or(|o| o.contains(&d.name)))
        .map(|d| d.name.clone())
        .collect();
    // A tenant that runs keeps the port of its endpoint even while nothing publishes it (its
    // ingress removed): its URL does not move, and a foreign program on it is an error to fix.
    let mut existing = observed.host_ports();
    for (t, port) in known.endpoints {
        if observed.tenants.get(t).is_some_and(|o| !o.containers.is_empty()) && !existing.contains_key(t) {
            existing.insert(t.clone(), *port);
        }
    }
    let ports = allocate(&wanted, &existing, &cfg.port_range, host_port_free);
    let earlier_builds = earlier_builds(desired, observed, only);
    let ingress_routes: BTreeMap<TenantName, String> = desired
        .tenants
        .values()
        .filter(|d| only.is_none_or(|o| o.contains(&d.name)))
        .filter_map(|d| Some((d.name.clone(), super::ingress::read_route(d.ingress_dir.as_deref()?)?)))
        .collect();
    let plan = plan(PlanInput {
        desired: &desired.tenants,
        invalid: &desired.invalid,
        hold_deletions: hold.as_deref(),
        observed,
        ports: &ports,
        rolled_back,
        delivered: &delivered,
        only,
        earlier_builds: &earlier_builds,
        ingress_routes: &ingress_routes,
    });
    Ok((ports, plan))
}

/// For each tag built from a context whose container runs another tag of the same repository,
/// the tag an earlier release gave the context's present files: when the two agree, upgrading
/// tenantd rebuilds and replaces nothing. Read from disk only for such containers.
fn earlier_builds(
    desired: &Desired,
    observed: &ObservedWorld,
    only: Option<&BTreeSet<TenantName>>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for d in desired.tenants.values().filter(|d| only.is_none_or(|o| o.contains(&d.name))) {
        let Some(o) = observed.tenants.get(&d.name) else { continue };
        for c in &d.containers {
            let ImageSource::Build { context, dockerfile, tag, .. } = &c.image else { continue };
            let Some((repo, _)) = tag.rsplit_once(':') else { continue };
            let runs_other = o.containers.iter().any(|oc| {
                oc.role == c.role && oc.image_ref != *tag && oc.image_ref.rsplit_once(':').map(|(r, _)| r) == Some(repo)
            });
            if runs_other && !out.contains_key(tag) {
                if let Some(digest) = earlier_context_digest(context, dockerfile) {
                    out.insert(tag.clone(), format!("{repo}:{}", &digest[..16]));
                }
            }
        }
    }
    out
}
