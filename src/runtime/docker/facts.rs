//! What tenantd learns from the engine's `/info` and acts on: whether it runs rootless (its
//! networks are then out of the host firewall's reach) and whether it enforces resource limits
//! at all (a rootless engine on cgroup v1 does not). Asked once per process.
//!
//! `/info` is read as plain JSON over its own connection, not through bollard's typed `info()`:
//! rootless Podman 4 leaves `name=rootless` out of `SecurityOptions` and says `"Rootless": true`
//! instead, a field of its own that the typed answer drops.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use super::endpoint::Endpoint;
use super::DockerRuntime;
use crate::runtime::model::LimitUpdates;
use crate::runtime::RuntimeError;

/// More than any engine's `/info` (a few KiB).
const INFO_LIMIT: usize = 1 << 20;

impl DockerRuntime {
    /// How the engine that answered can change limits: Podman (4.x) has no compatible update
    /// call, and its own update leaves what inspect reports unchanged; a rootless engine on
    /// cgroup v1 enforces none (when its `/info` cannot be had, the engine's kind decides).
    pub(super) async fn observed_limit_updates(&self) -> LimitUpdates {
        match self.facts().await {
            Ok(f) if !f.limits_enforced => LimitUpdates::Unenforced,
            _ => self.limit_updates(),
        }
    }

    /// What the engine's `/info` says that tenantd acts on. Asked once (a failure is not kept,
    /// so the next call asks again); an engine that enforces no limits is logged then.
    pub(super) async fn facts(&self) -> Result<EngineFacts, RuntimeError> {
        if let Some(known) = self.facts.get() {
            return Ok(*known);
        }
        // Connected first, so that the engine is known and an unreachable one says so as usual.
        self.client().await?;
        let call = self.timeouts.call;
        let info = tokio::time::timeout(call, raw_info(&self.endpoint))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {call:?}")))
            .map_err(|message| RuntimeError::Engine { operation: "ask the engine's info".into(), message })?;
        let facts = EngineFacts::of(&info);
        let first = self.facts.set(facts).is_ok();
        if first && !facts.limits_enforced {
            tracing::warn!(
                endpoint = %self.endpoint,
                "the engine runs rootless on cgroup v1 and enforces no resource limits: tenants run without \
                 their memory, cpus and pids limits, and a limit change is no change to make"
            );
        }
        Ok(facts)
    }
}

/// What the engine's `/info` says that tenantd acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EngineFacts {
    /// Both engines say so in `SecurityOptions` (`name=rootless`).
    pub rootless: bool,
    /// False for a rootless engine on cgroup v1, which has no cgroups to put limits in: Docker
    /// and Podman then create containers without them (Podman: "Resource limits are not
    /// supported and ignored on cgroups V1 rootless systems").
    pub limits_enforced: bool,
}

impl EngineFacts {
    fn of(info: &Value) -> Self {
        let security = info["SecurityOptions"].as_array().into_iter().flatten().filter_map(Value::as_str);
        let rootless =
            info["Rootless"] == true || security.into_iter().any(|o| o.split(',').any(|kv| kv == "name=rootless"));
        let cgroup_v1 = info["CgroupVersion"] == "1";
        EngineFacts { rootless, limits_enforced: !(rootless && cgroup_v1) }
    }
}

/// `GET /info` at `endpoint`, as JSON.
async fn raw_info(endpoint: &Endpoint) -> Result<Value, String> {
    match endpoint {
        Endpoint::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| format!("connect: {e}"))?;
            get_json(stream, "/info").await
        }
        Endpoint::Tcp(address) => {
            let address = address.trim_start_matches("tcp://").trim_start_matches("http://");
            let stream = tokio::net::TcpStream::connect(address).await.map_err(|e| format!("connect: {e}"))?;
            get_json(stream, "/info").await
        }
    }
}

async fn get_json<S>(stream: S, path: &str) -> Result<Value, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let answer = async {
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, "engine")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("GET {path}: {e}"))?;
        let res = sender.send_request(req).await.map_err(|e| format!("GET {path}: {e}"))?;
        let status = res.status();
        let body = Limited::new(res.into_body(), INFO_LIMIT).collect().await.map_err(|e| format!("GET {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("GET {path}: HTTP {status}"));
        }
        serde_json::from_slice(&body.to_bytes()).map_err(|e| format!("GET {path}: {e}"))
    }
    .await;
    conn.abort();
    answer
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::EngineFacts;

    #[test]
    fn only_a_rootless_engine_on_cgroup_v1_enforces_no_limits() {
        let docker_rootless =
            |v| json!({"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"], "CgroupVersion": v});
        // Podman 4 as it answers rootless: its own field, not a security option.
        let podman_rootless =
            |v| json!({"SecurityOptions": ["name=seccomp,profile=default"], "Rootless": true, "CgroupVersion": v});
        let rootful =
            json!({"SecurityOptions": ["name=seccomp,profile=default"], "Rootless": false, "CgroupVersion": "1"});
        let unenforced = EngineFacts { rootless: true, limits_enforced: false };
        assert_eq!(EngineFacts::of(&docker_rootless("1")), unenforced);
        assert_eq!(EngineFacts::of(&podman_rootless("1")), unenforced);
        assert_eq!(EngineFacts::of(&podman_rootless("2")), EngineFacts { rootless: true, limits_enforced: true });
        assert_eq!(EngineFacts::of(&rootful), EngineFacts { rootless: false, limits_enforced: true });
        assert_eq!(EngineFacts::of(&json!({})), EngineFacts { rootless: false, limits_enforced: true });
    }
}
