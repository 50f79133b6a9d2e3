//! `tenantd exec TENANT -- CMD…`: runs a command in a tenant's running container.

use tokio::signal::unix::{signal, SignalKind};

use super::target::Target;
use super::terminal::{self, RawMode};
use crate::config::DaemonConfig;
use crate::runtime::{ContainerState, ExecIo, ExecRequest, Family, Runtime, RuntimeError};

/// What `tenantd exec` was asked to run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub interactive: bool,
    pub tty: bool,
    pub command: Vec<String>,
}

/// Runs the command; its exit code is the value (as `docker exec` does).
pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>, opts: ExecOptions) -> anyhow::Result<u8> {
    let ExecOptions { interactive, tty, command } = opts;
    if command.is_empty() {
        anyhow::bail!("name the command to run after `--`: tenantd exec {tenant} -- CMD");
    }
    let runtime = super::connect(cfg).await?;
    let target = super::target::choose(cfg, runtime.as_ref(), tenant, container).await?;
    let c = &target.container;
    if c.state != ContainerState::Running {
        anyhow::bail!(
            "{} is not running ({}); see `tenantd status {}`",
            target.label(),
            state_word(c.state),
            target.tenant
        );
    }

    let io = ExecIo {
        stdin: interactive.then(terminal::stdin_chunks),
        stdout: Box::new(tokio::io::stdout()),
        stderr: Box::new(tokio::io::stderr()),
        resize: tty.then(terminal::sizes),
    };
    let request = ExecRequest { command, tty };
    // Raw mode only once everything that may fail with a message has passed, and only for a
    // terminal that is read from: the guard restores it whichever way this function ends.
    let raw = if tty && interactive { RawMode::enable()? } else { None };
    let mut terminated = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let code = tokio::select! {
        code = exec(runtime.as_ref(), &target, &request, io) => code?,
        // The command goes on in the container, as with `docker exec`; the terminal is restored.
        _ = terminated.recv() => 128 + 15,
        _ = hangup.recv() => 128 + 1,
    };
    drop(raw);
    // Exit codes are 0..=255 on Linux; anything else would be an engine oddity, reported as failure.
    Ok(u8::try_from(code).unwrap_or(1))
}

/// Runs the command through the engine, or on a cluster in the container of the tenant's pod.
async fn exec(runtime: &dyn Runtime, target: &Target, request: &ExecRequest, io: ExecIo) -> Result<i64, RuntimeError> {
    match runtime.family() {
        Family::Containers(engine) => engine.exec(&target.container.id, request, io).await,
        Family::Cluster(cluster) => cluster.exec_in(&target.tenant, &target.container.name, request, io).await,
    }
}

fn state_word(state: ContainerState) -> String {
    match state {
        ContainerState::Exited { code } => format!("exited with code {code}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
