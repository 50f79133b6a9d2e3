//! `tenantd logs TENANT`: a tenant container's output.

use crate::config::DaemonConfig;

/// What `tenantd logs` was asked for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<u64>,
    pub since: Option<String>,
    pub timestamps: bool,
}

pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>, opts: LogOptions) -> anyhow::Result<u8> {
    let LogOptions { follow, tail, since, timestamps } = opts;
    let _ = (cfg, tenant, container, follow, tail, since, timestamps);
    anyhow::bail!("tenantd logs is not available yet")
}
