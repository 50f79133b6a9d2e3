//! What an engine needs to pull from a private registry. Kept in the daemon config, never in
//! specs.

use serde::Deserialize;

/// Credentials for one registry, used when pulling images.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    /// Registry host (and port), e.g. `registry.example:5000`.
    pub server: String,
    pub username: String,
    pub password: crate::secret::Secret,
}
