//! Telling Docker from Podman by the engine's `/version` answer. Pure.

use bollard::models::SystemVersion;

use crate::runtime::engine::{EngineInfo, EngineKind};

/// The component Podman lists first in its `/version` answer.
const PODMAN_COMPONENT: &str = "Podman Engine";

/// The engine that gave `version`: Podman when it lists its own engine component, else Docker
/// (whose top-level `Version` is the daemon's).
pub(super) fn identify(version: &SystemVersion, endpoint: &str) -> EngineInfo {
    let podman = version.components.iter().flatten().find(|c| c.name == PODMAN_COMPONENT);
    let (kind, number) = match podman {
        Some(c) => (EngineKind::Podman, Some(c.version.clone())),
        None => (EngineKind::Docker, version.version.clone()),
    };
    EngineInfo {
        kind,
        version: number.filter(|v| !v.is_empty()).unwrap_or_else(|| "(unknown version)".into()),
        endpoint: endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> SystemVersion {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn podman_is_told_by_its_engine_component() {
        // Trimmed from podman 4.3.1's answer.
        let v = parse(
            r#"{"Platform":{"Name":"linux/amd64/debian-12"},"Components":[
                {"Name":"Podman Engine","Version":"4.3.1","Details":{"APIVersion":"4.3.1","MinAPIVersion":"4.0.0"}},
                {"Name":"Conmon","Version":"conmon version 2.1.6"}],
                "Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":"1.24"}"#,
        );
        let e = identify(&v, "unix:///tmp/p.sock");
        assert_eq!(e.kind, EngineKind::Podman);
        assert_eq!(e.to_string(), "podman 4.3.1 at unix:///tmp/p.sock");
    }

    #[test]
    fn anything_else_is_docker() {
        let v = parse(
            r#"{"Components":[{"Name":"Engine","Version":"20.10.24"},{"Name":"containerd","Version":"1.6.20"}],
                "Version":"20.10.24","ApiVersion":"1.41"}"#,
        );
        assert_eq!(
            identify(&v, "unix:///var/run/docker.sock").to_string(),
            "docker 20.10.24 at unix:///var/run/docker.sock"
        );
        let bare = identify(&parse("{}"), "tcp://h:1");
        assert_eq!((bare.kind, bare.version.as_str()), (EngineKind::Docker, "(unknown version)"));
    }
}
