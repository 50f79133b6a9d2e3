//! `tenantd exec TENANT -- CMD…`: runs a command in a tenant's running container.

use crate::config::DaemonConfig;

/// What `tenantd exec` was asked to run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub interactive: bool,
    pub tty: bool,
    pub command: Vec<String>,
}

pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>, opts: ExecOptions) -> anyhow::Result<u8> {
    let ExecOptions { interactive, tty, command } = opts;
    let _ = (cfg, tenant, container, interactive, tty, command);
    anyhow::bail!("tenantd exec is not available yet")
}
