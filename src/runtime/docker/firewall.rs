//! The host rules for this instance's networks (see [`crate::host_firewall`]): which networks
//! exist, with which subnets and egress, as the engine lists them, and whether the engine's
//! networks are this host's at all.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use bollard::models::Network;
use bollard::query_parameters::ListNetworksOptionsBuilder;
use ipnet::Ipv4Net;

use super::endpoint::Endpoint;
use super::errors::within;
use super::scope::instance_filter;
use super::DockerRuntime;
use crate::host_firewall::{Egress, FirewallError, GuardedNetwork};
use crate::runtime::engine::EngineKind;
use crate::runtime::error::RuntimeError;

impl DockerRuntime {
    /// Rewrites the host rules for the networks this instance has now. Does nothing when the
    /// runtime was made without host rules (`[network] host_firewall = "external"`).
    pub(super) async fn sync_host_firewall(&self) -> Result<(), RuntimeError> {
        let Some(firewall) = &self.host_firewall else { return Ok(()) };
        if matches!(self.endpoint, Endpoint::Tcp(_)) {
            return Err(FirewallError::NotLocal { endpoint: self.endpoint.to_string() }.into());
        }
        let _turn = firewall.turn().await;
        let docker = self.client().await?;
        if self.rootless().await? {
            return Err(FirewallError::Rootless { endpoint: self.endpoint.to_string() }.into());
        }
        let options = ListNetworksOptionsBuilder::new().filters(&instance_filter(&self.instance)).build();
        let networks = within(self.timeouts.call, docker.list_networks(Some(options)))
            .await
            .map_err(|e| self.fail("list networks for the host rules", e))?;
        let guarded: BTreeSet<GuardedNetwork> = networks.iter().flat_map(guarded).collect();
        let podman = self.engine.get().is_some_and(|e| e.kind == EngineKind::Podman);
        let replaced = firewall.replace(guarded, podman).await;
        self.host_rules_in_force.store(replaced.is_ok(), Ordering::SeqCst);
        Ok(replaced?)
    }

    /// Before a container starts: the host rules of this process's last rewrite are in force,
    /// or are rewritten now. So no container starts while they are not, whichever command or
    /// pass starts it.
    pub(super) async fn require_host_rules(&self) -> Result<(), RuntimeError> {
        if self.host_firewall.is_none() || self.host_rules_in_force.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.sync_host_firewall().await
    }

    /// Whether the engine runs rootless (its networks then live in a namespace of their own).
    async fn rootless(&self) -> Result<bool, RuntimeError> {
        Ok(self.facts().await?.rootless)
    }
}

/// A network's IPv4 subnets with its egress: internal networks reach nothing beyond themselves.
fn guarded(n: &Network) -> Vec<GuardedNetwork> {
    let egress = if n.internal.unwrap_or(false) { Egress::Deny } else { Egress::Allow };
    n.ipam
        .iter()
        .flat_map(|i| i.config.iter().flatten())
        .filter_map(|c| c.subnet.as_deref()?.parse::<Ipv4Net>().ok())
        .map(|subnet| GuardedNetwork { subnet: subnet.trunc(), egress })
        .collect()
}

#[cfg(test)]
mod tests {
    use bollard::models::{Ipam, IpamConfig};

    use super::*;

    #[test]
    fn a_networks_ipv4_subnets_are_guarded_with_its_egress() {
        let network = |internal: Option<bool>, subnets: &[&str]| Network {
            internal,
            ipam: Some(Ipam {
                config: Some(
                    subnets.iter().map(|s| IpamConfig { subnet: Some(s.to_string()), ..Default::default() }).collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        let deny = guarded(&network(Some(true), &["10.213.0.16/28", "fd00::/64"]));
        assert_eq!(deny, [GuardedNetwork { subnet: "10.213.0.16/28".parse().unwrap(), egress: Egress::Deny }]);
        let allow = guarded(&network(None, &["10.213.0.0/28"]));
        assert_eq!(allow, [GuardedNetwork { subnet: "10.213.0.0/28".parse().unwrap(), egress: Egress::Allow }]);
        assert!(guarded(&Network::default()).is_empty());
    }
}
