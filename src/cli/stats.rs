//! `tenantd stats`: live resource use per tenant.

use super::ListOutput;
use crate::config::DaemonConfig;

pub async fn run(cfg: &DaemonConfig, tenants: &[String], no_stream: bool, output: ListOutput) -> anyhow::Result<u8> {
    let _ = (cfg, tenants, no_stream, output);
    anyhow::bail!("tenantd stats is not available yet")
}
