//! Which container engine answers at an endpoint, and its version, as reported to people.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The product behind a Docker-compatible API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EngineKind {
    Docker,
    /// Podman through its Docker-compatible API.
    Podman,
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        })
    }
}

/// The engine a runtime is connected to: known once it has answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineInfo {
    pub kind: EngineKind,
    /// The engine's own version (`27.3.1`, `4.3.1`), as it reports it.
    pub version: String,
    /// Where it listens (`unix:///run/podman/podman.sock`).
    pub endpoint: String,
}

/// `podman 4.3.1 at unix:///run/podman/podman.sock`.
impl fmt::Display for EngineInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} at {}", self.kind, self.version, self.endpoint)
    }
}
