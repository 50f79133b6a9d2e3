//! Where the engine listens: parsed once from `docker.host` or `DOCKER_HOST`, else detected
//! among the Docker socket and the rootful and rootless Podman sockets.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::runtime::error::RuntimeError;

/// The engine's socket when neither the config nor `DOCKER_HOST` names one and no socket is
/// found: Docker's.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";
/// Where a rootful Podman serves its Docker-compatible API (`podman.socket`).
pub const ROOTFUL_PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// Where the engine's socket may be when nothing names it, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SocketCandidates(Vec<PathBuf>);

impl SocketCandidates {
    /// The Docker socket, the rootful Podman socket, then the rootless one under
    /// `xdg_runtime_dir` (`$XDG_RUNTIME_DIR/podman/podman.sock`) when that is set.
    pub(super) fn standard(xdg_runtime_dir: Option<&str>) -> Self {
        let docker = DEFAULT_ENDPOINT.trim_start_matches("unix://");
        let mut paths = vec![PathBuf::from(docker), PathBuf::from(ROOTFUL_PODMAN_SOCKET)];
        if let Some(dir) = xdg_runtime_dir.map(str::trim).filter(|d| d.starts_with('/')) {
            paths.push(Path::new(dir).join("podman/podman.sock"));
        }
        Self(paths)
    }

    /// The first candidate for which `exists` holds; `None` when there is none.
    fn first(&self, exists: impl Fn(&Path) -> bool) -> Option<&Path> {
        self.0.iter().map(PathBuf::as_path).find(|p| exists(p))
    }
}

/// A Docker endpoint tenantd can speak to: a local unix socket or plain HTTP over TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, spoken to over plain HTTP.
    Tcp(String),
}

impl Endpoint {
    /// Picks `host`, else `docker_host_env`, else the first of `candidates` for which `exists`
    /// holds, else [`DEFAULT_ENDPOINT`] (so the error names the usual socket).
    pub(super) fn choose(
        host: Option<&str>,
        docker_host_env: Option<&str>,
        candidates: &SocketCandidates,
        exists: impl Fn(&Path) -> bool,
    ) -> Result<Self, RuntimeError> {
        let named = [host, docker_host_env].into_iter().flatten().map(str::trim).find(|s| !s.is_empty());
        match named {
            Some(raw) => Self::parse(raw),
            None => match candidates.first(exists) {
                Some(path) => Ok(Endpoint::Unix(path.to_path_buf())),
                None => Self::parse(DEFAULT_ENDPOINT),
            },
        }
    }

    pub(super) fn parse(raw: &str) -> Result<Self, RuntimeError> {
        let invalid = |why: &str| RuntimeError::Engine {
            operation: format!("use docker endpoint {raw:?}"),
            message: format!("{why}: expected unix:///path/to/docker.sock or tcp://host:port"),
        };
        if let Some(path) = raw.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(invalid("the socket path must be absolute"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let address = raw
            .strip_prefix("tcp://")
            .or_else(|| raw.strip_prefix("http://"))
            .ok_or_else(|| invalid("unsupported scheme (TLS and ssh are not supported)"))?
            .trim_end_matches('/');
        let (host, port) = address.rsplit_once(':').ok_or_else(|| invalid("the port is missing"))?;
        if host.is_empty() || port.parse::<u16>().is_err() || address.contains('/') {
            return Err(invalid("not a host:port address"));
        }
        Ok(Endpoint::Tcp(address.to_string()))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(present: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p| present.iter().any(|q| Path::new(q) == p)
    }

    #[test]
    fn config_wins_over_env_and_env_over_detection() {
        let all = SocketCandidates::standard(Some("/run/user/1000"));
        let every = |_: &Path| true;
        assert_eq!(
            Endpoint::choose(Some("tcp://127.0.0.1:2375"), Some("unix:///env.sock"), &all, every).unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            Endpoint::choose(None, Some("unix:///env.sock"), &all, every).unwrap(),
            Endpoint::Unix("/env.sock".into())
        );
        // An empty DOCKER_HOST names nothing.
        assert_eq!(Endpoint::choose(None, Some(""), &all, every).unwrap().to_string(), DEFAULT_ENDPOINT);
        assert_eq!(Endpoint::choose(None, None, &all, |_| false).unwrap().to_string(), DEFAULT_ENDPOINT);
    }

    #[test]
    fn detection_prefers_docker_then_rootful_then_rootless_podman() {
        let all = SocketCandidates::standard(Some("/run/user/1000"));
        let pick = |present| Endpoint::choose(None, None, &all, only(present)).unwrap().to_string();
        assert_eq!(pick(&["/var/run/docker.sock", "/run/podman/podman.sock"]), DEFAULT_ENDPOINT);
        assert_eq!(
            pick(&["/run/podman/podman.sock", "/run/user/1000/podman/podman.sock"]),
            "unix:///run/podman/podman.sock"
        );
        assert_eq!(pick(&["/run/user/1000/podman/podman.sock"]), "unix:///run/user/1000/podman/podman.sock");
        // Without XDG_RUNTIME_DIR (or with a relative one) there is no rootless candidate.
        for xdg in [None, Some("relative/dir")] {
            let two = SocketCandidates::standard(xdg);
            let found = Endpoint::choose(None, None, &two, only(&["relative/dir/podman/podman.sock"])).unwrap();
            assert_eq!(found.to_string(), DEFAULT_ENDPOINT);
        }
    }

    #[test]
    fn unsupported_endpoints_are_named() {
        for bad in ["ssh://me@host", "https://h:2376", "unix://relative.sock", "tcp://host", "tcp://:80"] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert_eq!(Endpoint::parse("http://localhost:2375/").unwrap().to_string(), "tcp://localhost:2375");
    }
}
