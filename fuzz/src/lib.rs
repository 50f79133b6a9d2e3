//! What the fuzz targets share: the repository's sample specs, structured edits that turn them
//! into other specs, and the hardening checks on what a spec renders to.

pub mod edit;
pub mod hardening;
pub mod samples;

/// The engine's create body of a container, exactly as the Docker runtime builds it.
pub use tenantd::runtime::docker::create_body;
