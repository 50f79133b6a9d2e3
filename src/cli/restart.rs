//! `tenantd restart TENANT`: restarts a tenant's container in place, or on a cluster its pod.

use time::OffsetDateTime;

use crate::config::DaemonConfig;
use crate::reconcile::STOP_TIMEOUT_SECS;
use crate::render::kubernetes::{namespace_name, RUNTIME};
use crate::runtime::Family;

/// On a container engine, restarts the container through the engine: the same container (id,
/// settings, volumes) stops and starts again. On a cluster, the tenant's pod is replaced as
/// `kubectl rollout restart` does; a pod restarts as a whole, so naming one container of it
/// (`--container`) is refused. Either way a running daemon sees nothing to change afterwards.
pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>) -> anyhow::Result<u8> {
    let runtime = super::connect(cfg).await?;
    if let (Family::Cluster(_), Some(name)) = (runtime.family(), container) {
        anyhow::bail!(
            "on Kubernetes a restart is per pod: the runtime and its sidecars restart together, so {name:?} \
             cannot restart alone; `tenantd restart {tenant}` replaces the whole pod"
        );
    }
    let target = super::target::choose(cfg, runtime.as_ref(), tenant, container).await?;
    let c = &target.container;
    match runtime.family() {
        Family::Containers(engine) => {
            engine.restart_container(&c.id, STOP_TIMEOUT_SECS).await?;
            println!("{}: restarted container {} ({}) in place", target.label(), c.name, short_id(&c.id));
        }
        Family::Cluster(cluster) => {
            cluster.restart_pod(&target.tenant, OffsetDateTime::now_utc()).await?;
            println!(
                "{}: restarting its pod (rollout restart of Deployment {RUNTIME} in namespace {}); \
                 `tenantd status {}` shows when the new pod is ready",
                target.tenant,
                namespace_name(&cfg.instance, &target.tenant),
                target.tenant
            );
        }
    }
    Ok(0)
}

/// The first 12 characters of an engine id, as `docker ps` shows it.
fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
