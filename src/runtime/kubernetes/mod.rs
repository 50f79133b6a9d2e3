//! The Kubernetes runtime: each tenant as a namespace of objects on a cluster. So far this holds
//! the manifests tenantd renders for a tenant (`tenantd render --runtime kubernetes`); the
//! runtime trait is not implemented for clusters yet.

mod manifests;

pub use manifests::{manifests, to_yaml, KubeOptions, TenantManifests};
