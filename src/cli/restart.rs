//! `tenantd restart TENANT`: restarts a tenant's container in place.

use crate::config::DaemonConfig;
use crate::reconcile::STOP_TIMEOUT_SECS;

/// Restarts the container through the engine: the same container (id, settings, volumes) stops
/// and starts again. A running daemon sees the same container with the same settings afterwards,
/// so it has nothing to change.
pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>) -> anyhow::Result<u8> {
    let runtime = super::connect(cfg).await?;
    let target = super::target::choose(cfg, runtime.as_ref(), tenant, container).await?;
    let c = &target.container;
    let engine = runtime.containers(&format!("restart container {} (the cluster restarts its pods)", c.name))?;
    engine.restart_container(&c.id, STOP_TIMEOUT_SECS).await?;
    println!("{}: restarted container {} ({}) in place", target.label(), c.name, short_id(&c.id));
    Ok(0)
}

/// The first 12 characters of an engine id, as `docker ps` shows it.
fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
