//! Where the Docker engine listens: parsed once from `docker.host`, `DOCKER_HOST` or the default.

use std::fmt;
use std::path::PathBuf;

use crate::runtime::error::RuntimeError;

/// The engine's socket when neither the config nor `DOCKER_HOST` names one.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// A Docker endpoint tenantd can speak to: a local unix socket or plain HTTP over TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, spoken to over plain HTTP.
    Tcp(String),
}

impl Endpoint {
    /// Picks `host`, else `docker_host_env`, else [`DEFAULT_ENDPOINT`], and parses it.
    pub(super) fn choose(host: Option<&str>, docker_host_env: Option<&str>) -> Result<Self, RuntimeError> {
        let raw = host.or(docker_host_env).map(str::trim).filter(|s| !s.is_empty()).unwrap_or(DEFAULT_ENDPOINT);
        Self::parse(raw)
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

    #[test]
    fn config_wins_over_env_and_env_over_default() {
        assert_eq!(
            Endpoint::choose(Some("tcp://127.0.0.1:2375"), Some("unix:///env.sock")).unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(Endpoint::choose(None, Some("unix:///env.sock")).unwrap(), Endpoint::Unix("/env.sock".into()));
        assert_eq!(Endpoint::choose(None, Some("")).unwrap().to_string(), DEFAULT_ENDPOINT);
        assert_eq!(Endpoint::choose(None, None).unwrap().to_string(), DEFAULT_ENDPOINT);
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
