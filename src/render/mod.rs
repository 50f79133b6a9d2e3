//! Spec → the desired objects for a runtime, and the desired-state hashes. Pure: no I/O.

mod files;
mod hash;
pub mod ingress;
pub mod kubernetes;
pub mod labels;
mod limits;
mod model;
pub mod openclaw;
mod tenant;

pub use files::{
    numeric_owner, secret_key, BindPlan, FileHashes, FileRoots, OpenClawFiles, CONFIG_FILE, CONFIG_PATH_ENV,
    RUNTIME_CONFIG_DIR,
};
pub use hash::{versioned_hash, HASH_VERSION};
pub use limits::Limits;
pub use model::*;
pub use tenant::{object_name, render, ContainerView, DEFAULT_USER, MAIN_ALIAS};

/// Renders a spec for the runtime it will run on: on a cluster (`cluster` set), the tenant's
/// objects there as well.
pub fn render_for(
    spec: &crate::spec::LoadedSpec,
    instance: &crate::spec::TenantName,
    roots: &FileRoots,
    cluster: Option<&kubernetes::KubeOptions>,
) -> DesiredTenant {
    let mut d = render(spec, instance, roots);
    if let Some(opts) = cluster {
        // A cluster's Service is the stable endpoint; an ingress is for container engines.
        d.containers.retain(|c| c.role != ContainerRole::Ingress);
        d.ingress_dir = None;
        d.cluster = Some(kubernetes::desired_objects(&d, instance, opts));
    }
    d
}
