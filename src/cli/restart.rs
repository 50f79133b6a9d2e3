//! `tenantd restart TENANT`: restarts a tenant's container in place.

use crate::config::DaemonConfig;

pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>) -> anyhow::Result<u8> {
    let _ = (cfg, tenant, container);
    anyhow::bail!("tenantd restart is not available yet")
}
