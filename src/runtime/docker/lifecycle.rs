//! Creating, starting, stopping, restarting, renaming, removing and resizing containers. Every call on an existing
//! container first checks that it is this instance's ([`DockerRuntime::owned_container`]).

use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, RestartContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};

use super::container::create_body;
use super::errors::{is_status, message, within};
use super::scope::bare_name;
use super::DockerRuntime;
use crate::render::labels;
use crate::render::{DesiredContainer, Limits};
use crate::runtime::error::RuntimeError;
use crate::runtime::model::LimitUpdates;
use crate::runtime::Runtime;
use crate::spec::TenantName;

impl DockerRuntime {
    pub(super) async fn create(
        &self,
        tenant: &TenantName,
        spec_hash: &str,
        c: &DesiredContainer,
        network: &str,
        host_port: Option<u16>,
    ) -> Result<String, RuntimeError> {
        let docker = self.client().await?;
        let operation = format!("create container {}", c.name);
        let body = create_body(&self.instance, tenant, spec_hash, c, network, host_port, &self.ulimits);
        let options = CreateContainerOptionsBuilder::new().name(&c.name).build();
        match within(self.timeouts.call, docker.create_container(Some(options), body)).await {
            Ok(created) => {
                for warning in created.warnings {
                    tracing::warn!(container = %c.name, "engine warning on create: {warning}");
                }
                Ok(created.id)
            }
            Err(e) if is_status(&e, 409) => Err(self.name_taken(&c.name, &operation, e).await),
            Err(e) if is_status(&e, 404) && message(&e).contains("No such image") => {
                Err(RuntimeError::ImageMissing { reference: c.image.reference().to_string() })
            }
            Err(e) => Err(self.fail(operation, e)),
        }
    }

    /// The error for a create that hit an existing name: an engine error when the holder is this
    /// instance's (the caller should have removed it), `Conflict` when it is not.
    async fn name_taken(&self, name: &str, operation: &str, original: bollard::errors::Error) -> RuntimeError {
        match self.owned_container(name, operation).await {
            Ok(Some(existing)) => RuntimeError::Engine {
                operation: operation.to_string(),
                message: format!(
                    "a container of this instance with that name already exists ({}); remove it first",
                    existing.id.as_deref().unwrap_or("unknown id")
                ),
            },
            Ok(None) => self.fail(operation.to_string(), original),
            Err(e) => e,
        }
    }

    pub(super) async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let operation = "start container";
        let existing = self.require_owned(id, operation).await?;
        self.require_host_rules().await?;
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.start_container(id, None::<StartContainerOptions>)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) => Ok(()),
            Err(e) => {
                let text = message(&e);
                let port_taken = text.contains("port is already allocated") || text.contains("address already in use");
                match published_host_port(&existing) {
                    Some(port) if port_taken => Err(RuntimeError::PortInUse { port }),
                    _ => Err(self.fail(format!("{operation} {id}"), e)),
                }
            }
        }
    }

    pub(super) async fn stop(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError> {
        let operation = "stop container";
        if self.owned_container(id, operation).await?.is_none() {
            return Ok(());
        }
        let docker = self.client().await?;
        let grace = i32::try_from(timeout_secs).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(grace).build();
        // The engine answers only once the container is down: allow the grace period on top.
        let limit = self.timeouts.call + Duration::from_secs(u64::from(timeout_secs));
        match within(limit, docker.stop_container(id, Some(options))).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) || is_status(&e, 404) => Ok(()),
            Err(e) => Err(self.fail(format!("{operation} {id}"), e)),
        }
    }

    /// Restarts (stop with `timeout_secs`, then start) a container of this instance; a stopped
    /// one is started.
    pub(super) async fn restart(&self, id: &str, timeout_secs: u32) -> Result<(), RuntimeError> {
        let operation = "restart container";
        self.require_owned(id, operation).await?;
        self.require_host_rules().await?;
        let docker = self.client().await?;
        let grace = i32::try_from(timeout_secs).unwrap_or(i32::MAX);
        let options = RestartContainerOptionsBuilder::new().t(grace).build();
        // Like a stop, the engine answers once the container is up again.
        let limit = self.timeouts.call + Duration::from_secs(u64::from(timeout_secs));
        within(limit, docker.restart_container(id, Some(options)))
            .await
            .map_err(|e| self.fail(format!("{operation} {id}"), e))
    }

    /// Sends `signal` to a container of this instance.
    pub(super) async fn signal(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        let operation = "signal container";
        self.require_owned(id, operation).await?;
        let docker = self.client().await?;
        let options = KillContainerOptionsBuilder::new().signal(signal).build();
        within(self.timeouts.call, docker.kill_container(id, Some(options)))
            .await
            .map_err(|e| self.fail(format!("{operation} {id} ({signal})"), e))
    }

    /// Renames a container of this instance. Renaming to the name it has is success; a name
    /// held by another container is an `Engine` error.
    pub(super) async fn rename(&self, id: &str, new_name: &str) -> Result<(), RuntimeError> {
        let operation = "rename container";
        let existing = self.require_owned(id, operation).await?;
        if existing.name.as_deref().map(bare_name) == Some(new_name) {
            return Ok(());
        }
        let docker = self.client().await?;
        let options = RenameContainerOptionsBuilder::new().name(new_name).build();
        within(self.timeouts.call, docker.rename_container(id, options))
            .await
            .map_err(|e| self.fail(format!("{operation} {id} to {new_name}"), e))
    }

    pub(super) async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let operation = "remove container";
        if self.owned_container(id, operation).await?.is_none() {
            return Ok(());
        }
        let docker = self.client().await?;
        // Volumes are kept: they hold tenant data and are removed on their own.
        let options = RemoveContainerOptionsBuilder::new().force(true).v(false).build();
        match within(self.timeouts.call, docker.remove_container(id, Some(options))).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) if is_status(&e, 409) && message(&e).contains("already in progress") => Ok(()),
            Err(e) => Err(self.fail(format!("{operation} {id}"), e)),
        }
    }

    pub(super) async fn update(&self, id: &str, limits: &Limits) -> Result<(), RuntimeError> {
        let operation = "update limits of container";
        self.require_owned(id, operation).await?;
        let docker = self.client().await?;
        if self.limit_updates() == LimitUpdates::Recreate {
            // Plans for such an engine replace the container instead; a caller that asks anyway
            // gets a clear refusal rather than the engine's bare 404.
            return Err(self.unsupported(format!("{operation} {id} in place")));
        }
        let body = super::limits::update_body(limits);
        within(self.timeouts.call, docker.update_container(id, body))
            .await
            .map_err(|e| self.fail(format!("{operation} {id}"), e))
    }

    /// Like [`DockerRuntime::owned_container`], but a missing container is an `Engine` error
    /// naming it.
    pub(super) async fn require_owned(
        &self,
        id: &str,
        operation: &str,
    ) -> Result<ContainerInspectResponse, RuntimeError> {
        self.owned_container(id, operation).await?.ok_or_else(|| RuntimeError::Engine {
            operation: format!("{operation} {id}"),
            message: "no such container".into(),
        })
    }
}

/// The host port a container was created to publish: its binding, else tenantd's label.
fn published_host_port(c: &ContainerInspectResponse) -> Option<u16> {
    let from_binding = c
        .host_config
        .as_ref()
        .and_then(|h| h.port_bindings.as_ref())
        .into_iter()
        .flat_map(|m| m.values())
        .flatten()
        .flatten()
        .find_map(|b| b.host_port.as_deref()?.parse().ok());
    from_binding.or_else(|| c.config.as_ref()?.labels.as_ref()?.get(labels::HOST_PORT)?.parse().ok())
}
