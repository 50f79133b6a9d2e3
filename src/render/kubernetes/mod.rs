//! A tenant as Kubernetes objects: what the Kubernetes runtime applies and what
//! `tenantd render --runtime kubernetes` prints. Pure: no cluster is involved.

mod manifests;
mod names;
mod objects;
mod pod;
mod quantity;

pub use manifests::{manifests, KubeOptions, TenantManifests};
pub use names::{namespace_name, CONFIG_MAP, FIELD_MANAGER, RUNTIME, SECRET};
pub use objects::{desired_objects, to_yaml, DesiredObject, ObjectKind, APPLIED_HASH};
pub use pod::{cluster_strategy, container_name, FILES_HASH};
pub use quantity::Quantity;
