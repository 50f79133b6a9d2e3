//! Tenant networks: one bridge per tenant on a subnet of tenantd's own pool, created and removed
//! only when it is this instance's; and attaching this instance's containers to them (again).

use std::collections::BTreeSet;

use bollard::models::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    NetworkInspect,
};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};
use ipnet::Ipv4Net;

use super::endpoint::Endpoint;
use super::errors::{is_status, message, within};
use super::host_routes;
use super::scope::{is_ours, object_labels};
use super::DockerRuntime;
use crate::render::labels;
use crate::render::DesiredNetwork;
use crate::runtime::error::RuntimeError;
use crate::spec::TenantName;

/// Subnets tried for one network before giving up.
const SUBNET_ATTEMPTS: usize = 32;

impl DockerRuntime {
    pub(super) async fn create_tenant_network(
        &self,
        tenant: &TenantName,
        network: &DesiredNetwork,
    ) -> Result<String, RuntimeError> {
        let operation = format!("create network {}", network.name);
        // Engines before API 1.44 accept a second network with the same name, so look first
        // instead of relying on a 409.
        if let Some(existing) = self.network_named(&network.name, &operation).await? {
            let id = self.adopt_existing(tenant, &network.name, existing)?;
            self.sync_host_firewall().await?;
            return Ok(id);
        }
        // Another process may take the subnet first (another engine on this host makes its
        // bridge between our look at the routes and our create), or the engine may still hold
        // the subnet of a network removed a moment ago without listing it: it then refuses the
        // subnet as taken, and the next free one is tried.
        let mut refused = BTreeSet::new();
        for _ in 0..SUBNET_ATTEMPTS {
            let subnet = self.reserve_subnet(&operation, &refused).await?;
            let request = NetworkCreateRequest {
                name: network.name.clone(),
                driver: Some("bridge".into()),
                internal: Some(network.internal),
                attachable: Some(false),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig { subnet: Some(subnet.to_string()), ..Default::default() }]),
                    ..Default::default()
                }),
                labels: Some(object_labels(&self.instance, tenant)),
                ..Default::default()
            };
            let docker = self.client().await?;
            let created = within(self.timeouts.call, docker.create_network(request)).await;
            self.release_subnet(&subnet);
            match created {
                Ok(created) => {
                    // The network's subnet is in the host rules before the caller can start a
                    // container on it; if that fails, so does the create step.
                    self.sync_host_firewall().await?;
                    return Ok(created.id);
                }
                Err(e) if refused_as_taken(&e) => {
                    refused.insert(subnet);
                }
                Err(e) if is_status(&e, 409) => {
                    return match self.network_named(&network.name, &operation).await? {
                        Some(existing) => {
                            let id = self.adopt_existing(tenant, &network.name, existing)?;
                            self.sync_host_firewall().await?;
                            Ok(id)
                        }
                        None => Err(self.fail(operation, e)),
                    }
                }
                Err(e) => return Err(self.fail(operation, e)),
            }
        }
        Err(RuntimeError::Engine {
            operation,
            message: format!("the engine refused {SUBNET_ATTEMPTS} free subnets in a row as overlapping"),
        })
    }

    /// The first subnet of the pool that no network on the engine, no route of this host (for a
    /// local engine), no create of this process still in flight and none of `refused` overlaps; held until [`Self::release_subnet`].
    async fn reserve_subnet(&self, operation: &str, refused: &BTreeSet<Ipv4Net>) -> Result<Ipv4Net, RuntimeError> {
        let docker = self.client().await?;
        let networks = within(self.timeouts.call, docker.list_networks(None::<ListNetworksOptions>))
            .await
            .map_err(|e| self.fail(format!("{operation}: list networks"), e))?;
        let mut taken: BTreeSet<Ipv4Net> = networks
            .iter()
            .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
            .flatten()
            .filter_map(|c| c.subnet.as_deref()?.parse().ok())
            .collect();
        if matches!(self.endpoint, Endpoint::Unix(_)) {
            taken.extend(host_routes::routed_subnets());
        }
        let mut reserved = self.subnets_in_flight.lock().unwrap_or_else(|p| p.into_inner());
        taken.extend(reserved.iter().chain(refused).copied());
        let subnet = self.subnet_pool.first_free(&taken).ok_or_else(|| RuntimeError::Engine {
            operation: operation.to_string(),
            message: format!(
                "no free subnet left among the {} ([docker] network_pool and network_prefix)",
                self.subnet_pool
            ),
        })?;
        reserved.insert(subnet);
        Ok(subnet)
    }

    fn release_subnet(&self, subnet: &Ipv4Net) {
        self.subnets_in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(subnet);
    }

    /// An existing network of this instance and tenant is "already created"; any other is a conflict.
    fn adopt_existing(
        &self,
        tenant: &TenantName,
        name: &str,
        existing: NetworkInspect,
    ) -> Result<String, RuntimeError> {
        let labels = existing.labels.as_ref();
        let same_tenant = labels.and_then(|l| l.get(labels::TENANT)).is_some_and(|t| t == tenant.as_str());
        match existing.id {
            Some(id) if is_ours(labels, &self.instance) && same_tenant => Ok(id),
            _ => Err(RuntimeError::Conflict { kind: "network".into(), name: name.to_string() }),
        }
    }

    pub(super) async fn remove_tenant_network(&self, name: &str) -> Result<(), RuntimeError> {
        let operation = format!("remove network {name}");
        let Some(existing) = self.network_named(name, &operation).await? else {
            return Ok(());
        };
        if !is_ours(existing.labels.as_ref(), &self.instance) {
            return Err(RuntimeError::Conflict { kind: "network".into(), name: name.to_string() });
        }
        // Remove by id: a foreign network might share the name on old engines.
        let id = existing.id.as_deref().unwrap_or(name);
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.remove_network(id)).await {
            Ok(()) => {}
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(self.fail(operation, e)),
        }
        // Its subnet leaves the host rules (the engine may hand it to another network).
        self.sync_host_firewall().await
    }

    /// Attaches a container of this instance to a network of this instance with `aliases`.
    pub(super) async fn attach(&self, id: &str, network: &str, aliases: &[String]) -> Result<(), RuntimeError> {
        let operation = format!("connect container {id} to network {network}");
        self.require_owned(id, &operation).await?;
        let existing = self
            .network_named(network, &operation)
            .await?
            .ok_or_else(|| RuntimeError::Engine { operation: operation.clone(), message: "no such network".into() })?;
        if !is_ours(existing.labels.as_ref(), &self.instance) {
            return Err(RuntimeError::Conflict { kind: "network".into(), name: network.to_string() });
        }
        let request = NetworkConnectRequest {
            container: id.to_string(),
            endpoint_config: Some(EndpointSettings { aliases: Some(aliases.to_vec()), ..Default::default() }),
        };
        let docker = self.client().await?;
        let by_id = existing.id.as_deref().unwrap_or(network);
        match within(self.timeouts.call, docker.connect_network(by_id, request)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 403) && message(&e).contains("already exists") => Ok(()),
            Err(e) => Err(self.fail(operation, e)),
        }
    }

    /// Detaches a container of this instance from a network, whoever's it is.
    pub(super) async fn detach(&self, id: &str, network: &str) -> Result<(), RuntimeError> {
        let operation = format!("disconnect container {id} from network {network}");
        self.require_owned(id, &operation).await?;
        let request = NetworkDisconnectRequest { container: id.to_string(), force: Some(true) };
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.disconnect_network(network, request)).await {
            Ok(()) => Ok(()),
            // The network is gone, or the container is not (or no longer) attached to it.
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) if message(&e).contains("is not connected") => Ok(()),
            Err(e) => Err(self.fail(operation, e)),
        }
    }

    /// The network named exactly `name`, if any. The engine also resolves ids and id prefixes,
    /// so the name is compared.
    async fn network_named(&self, name: &str, operation: &str) -> Result<Option<NetworkInspect>, RuntimeError> {
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.inspect_network(name, None::<InspectNetworkOptions>)).await {
            Ok(n) if n.name.as_deref() == Some(name) => Ok(Some(n)),
            Ok(_) => Ok(None),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(self.fail(format!("{operation}: inspect"), e)),
        }
    }
}

/// Whether the engine refused a network's subnet because something holds it already: Docker
/// says the pool "overlaps" (403); Podman that the subnet "is already used on the host or by
/// another config" (500).
fn refused_as_taken(e: &bollard::errors::Error) -> bool {
    let said = message(e);
    (is_status(e, 403) && said.contains("overlaps"))
        || (is_status(e, 500) && said.contains("is already used on the host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_said(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError { status_code, message: message.into() }
    }

    #[test]
    fn a_subnet_taken_meanwhile_is_told_apart_from_other_refusals() {
        let docker = "Pool overlaps with other one on this address space";
        let podman = "subnet 10.251.0.0/28 is already used on the host or by another config";
        assert!(refused_as_taken(&engine_said(403, docker)));
        assert!(refused_as_taken(&engine_said(500, podman)));
        assert!(!refused_as_taken(&engine_said(500, "plugin not found")));
        assert!(!refused_as_taken(&engine_said(409, "network with name t_acme already exists")));
    }
}
