//! Observing this instance (or one tenant of it): one list per kind, one inspect per container
//! (a few at a time), grouped by tenant label, plus local image ids and foreign holders of
//! wanted names.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, Network};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use futures_util::{stream, StreamExt, TryStreamExt};

use super::errors::{is_status, within};
use super::owner::is_owner_marker;
use super::scope::{bare_name, is_ours};
use super::DockerRuntime;
use crate::render::labels;
use crate::render::ContainerRole;
use crate::runtime::error::RuntimeError;
use crate::runtime::model::{
    ContainerState, EngineHealth, ForeignObject, NetworkAttachment, ObservedContainer, ObservedNetwork, ObservedTenant,
    ObservedWorld,
};
use crate::spec::TenantName;

/// How many inspects run at once: enough to hide latency, few enough to spare the engine.
const INSPECT_CONCURRENCY: usize = 8;
/// What the engine reports as `StartedAt` for a container that never started.
const NEVER: &str = "0001-01-01T00:00:00Z";

impl DockerRuntime {
    /// The objects that match the label `filter` (which must include the instance label: the
    /// engine ANDs label filters), plus `images` and the foreign holders of `names`.
    pub(super) async fn observe_labelled(
        &self,
        filter: &HashMap<String, Vec<String>>,
        images: &[String],
        names: &[String],
    ) -> Result<ObservedWorld, RuntimeError> {
        let docker = self.client().await?;
        let call = self.timeouts.call;

        let (summaries, networks, volumes) = tokio::try_join!(
            async {
                let options = ListContainersOptionsBuilder::new().all(true).filters(filter).build();
                within(call, docker.list_containers(Some(options))).await.map_err(|e| self.fail("list containers", e))
            },
            async {
                let options = ListNetworksOptionsBuilder::new().filters(filter).build();
                within(call, docker.list_networks(Some(options))).await.map_err(|e| self.fail("list networks", e))
            },
            async {
                let options = ListVolumesOptionsBuilder::new().filters(filter).build();
                within(call, docker.list_volumes(Some(options))).await.map_err(|e| self.fail("list volumes", e))
            },
        )?;

        let inspected: Vec<ContainerInspectResponse> = stream::iter(summaries.into_iter().filter_map(|s| s.id))
            .map(|id| async move {
                let inspect = docker.inspect_container(&id, None::<InspectContainerOptions>);
                match within(call, inspect).await {
                    Ok(c) => Ok(Some(c)),
                    // Removed between the list and the inspect. Podman 4 says so with a 500
                    // ("no such container") when the removal is still under way.
                    Err(e) if is_status(&e, 404) || super::errors::is_gone_on_podman(&e) => Ok(None),
                    Err(e) => Err(self.fail(format!("inspect container {id}"), e)),
                }
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .try_filter_map(|c| async move { Ok(c) })
            .try_collect()
            .await?;

        let mut world = ObservedWorld { limit_updates: self.observed_limit_updates().await, ..Default::default() };
        for c in &inspected {
            if let Some((t, observed)) = observed_container(c) {
                tenant(&mut world, t).containers.push(observed);
            }
        }
        for n in networks {
            if let Some((t, observed)) = observed_network(&n) {
                let slot = &mut tenant(&mut world, t.clone()).network;
                match slot {
                    // Two networks of one tenant: keep the first by name, so the pick is stable.
                    Some(kept) if kept.name <= observed.name => {
                        tracing::warn!(tenant = %t, network = %observed.name, "second network for one tenant ignored")
                    }
                    _ => *slot = Some(observed),
                }
            }
        }
        for v in volumes.volumes.unwrap_or_default() {
            if is_owner_marker(&v.labels) {
                continue;
            }
            match tenant_label(Some(&v.labels)) {
                Some(t) => tenant(&mut world, t).volumes.push(v.name),
                None => {
                    tracing::warn!(volume = %v.name, "volume without a valid tenant label ignored")
                }
            }
        }
        for t in world.tenants.values_mut() {
            t.containers.sort_by(|a, b| a.role.cmp(&b.role).then_with(|| a.name.cmp(&b.name)));
            t.volumes.sort();
        }

        world.images = self.local_images(images).await?;
        // A name this instance's own container (or network) holds cannot be held by a foreign
        // one of the same kind: only the others are looked up.
        let unheld = |held: BTreeSet<&str>| -> Vec<String> {
            names.iter().filter(|n| !held.contains(n.as_str())).cloned().collect()
        };
        let containers = unheld(world.tenants.values().flat_map(|t| &t.containers).map(|c| c.name.as_str()).collect());
        let networks =
            unheld(world.tenants.values().filter_map(|t| t.network.as_ref()).map(|n| n.name.as_str()).collect());
        let volumes = unheld(world.tenants.values().flat_map(|t| &t.volumes).map(String::as_str).collect());
        world.foreign = self.foreign_holders(&containers, &networks, &volumes).await?;
        Ok(world)
    }

    /// The local image id of each reference; `None` when it is not present.
    async fn local_images(&self, references: &[String]) -> Result<BTreeMap<String, Option<String>>, RuntimeError> {
        let unique: BTreeSet<String> = references.iter().cloned().collect();
        stream::iter(unique)
            .map(|reference| async move {
                let id = self.local_image_id(&reference).await?;
                Ok((reference, id))
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Containers that hold one of `container_names`, networks that hold one of
    /// `network_names` and volumes that hold one of `volume_names`, without this instance's
    /// label.
    async fn foreign_holders(
        &self,
        container_names: &[String],
        network_names: &[String],
        volume_names: &[String],
    ) -> Result<Vec<ForeignObject>, RuntimeError> {
        let docker = self.client().await?;
        let call = self.timeouts.call;
        // The engine's name filter matches substrings (as regular expressions); exact names are
        // compared below.
        let filter = |names: &[String]| {
            HashMap::from([("name".to_string(), names.iter().map(|n| regex_escape(n)).collect::<Vec<_>>())])
        };
        let (containers, networks, volumes) = tokio::try_join!(
            async {
                if container_names.is_empty() {
                    return Ok(vec![]);
                }
                let options = ListContainersOptionsBuilder::new().all(true).filters(&filter(container_names)).build();
                within(call, docker.list_containers(Some(options)))
                    .await
                    .map_err(|e| self.fail("list containers by name", e))
            },
            async {
                if network_names.is_empty() {
                    return Ok(vec![]);
                }
                let options = ListNetworksOptionsBuilder::new().filters(&filter(network_names)).build();
                within(call, docker.list_networks(Some(options)))
                    .await
                    .map_err(|e| self.fail("list networks by name", e))
            },
            async {
                if volume_names.is_empty() {
                    return Ok(vec![]);
                }
                let options = ListVolumesOptionsBuilder::new().filters(&filter(volume_names)).build();
                within(call, docker.list_volumes(Some(options)))
                    .await
                    .map(|v| v.volumes.unwrap_or_default())
                    .map_err(|e| self.fail("list volumes by name", e))
            },
        )?;

        let mut foreign = BTreeSet::new();
        for c in containers {
            if is_ours(c.labels.as_ref(), &self.instance) {
                continue;
            }
            for name in c.names.iter().flatten().map(|n| bare_name(n)) {
                if container_names.iter().any(|w| w == name) {
                    foreign.insert(("container", name.to_string()));
                }
            }
        }
        for n in networks {
            if let Some(name) = n.name.as_deref().filter(|n| network_names.iter().any(|w| w == n)) {
                if !is_ours(n.labels.as_ref(), &self.instance) {
                    foreign.insert(("network", name.to_string()));
                }
            }
        }
        for v in volumes {
            if volume_names.contains(&v.name) && !is_ours(Some(&v.labels), &self.instance) {
                foreign.insert(("volume", v.name));
            }
        }
        Ok(foreign.into_iter().map(|(kind, name)| ForeignObject { kind: kind.to_string(), name }).collect())
    }
}

fn tenant(world: &mut ObservedWorld, name: TenantName) -> &mut ObservedTenant {
    world.tenants.entry(name.clone()).or_insert_with(|| ObservedTenant::empty(name))
}

fn tenant_label(labels: Option<&HashMap<String, String>>) -> Option<TenantName> {
    labels?.get(labels::TENANT)?.parse().ok()
}

fn observed_network(n: &Network) -> Option<(TenantName, ObservedNetwork)> {
    let name = n.name.clone()?;
    let Some(tenant) = tenant_label(n.labels.as_ref()) else {
        tracing::warn!(network = %name, "network without a valid tenant label ignored");
        return None;
    };
    Some((tenant, ObservedNetwork { id: n.id.clone()?, name, internal: n.internal.unwrap_or(false) }))
}

/// The container as `plan` sees it, with its tenant; `None` (and a warning) when tenantd's own
/// labels on it are missing or unreadable.
fn observed_container(c: &ContainerInspectResponse) -> Option<(TenantName, ObservedContainer)> {
    let id = c.id.clone()?;
    let name = c.name.as_deref().map(bare_name).unwrap_or(&id).to_string();
    let config = c.config.as_ref();
    let l = config.and_then(|c| c.labels.as_ref());
    let label = |key: &str| l.and_then(|l| l.get(key)).cloned();
    let Some(tenant) = tenant_label(l) else {
        tracing::warn!(container = %name, "container without a valid tenant label ignored");
        return None;
    };
    let Some(role) = label(labels::ROLE).and_then(|r| ContainerRole::from_label(&r)) else {
        tracing::warn!(container = %name, "container without a valid role label ignored");
        return None;
    };
    let host = c.host_config.as_ref();
    let state = c.state.as_ref();
    let observed = ObservedContainer {
        id,
        name,
        role,
        image_ref: config.and_then(|c| c.image.clone()).unwrap_or_default(),
        image_id: c.image.clone().unwrap_or_default(),
        config_hash: label(labels::CONFIG_HASH),
        field_hashes: label(labels::FIELD_HASHES).map(|s| parse_field_hashes(&s)).unwrap_or_default(),
        spec_hash: label(labels::SPEC_HASH),
        applied: label(labels::APPLIED),
        state: container_state(c),
        health: match state.and_then(|s| s.health.as_ref()).and_then(|h| h.status) {
            None | Some(HealthStatusEnum::EMPTY) | Some(HealthStatusEnum::NONE) => EngineHealth::None,
            Some(HealthStatusEnum::STARTING) => EngineHealth::Starting,
            Some(HealthStatusEnum::HEALTHY) => EngineHealth::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => EngineHealth::Unhealthy,
        },
        limits: super::limits::observed(host),
        host_port: host
            .and_then(|h| h.port_bindings.as_ref())
            .into_iter()
            .flat_map(|m| m.values())
            .flatten()
            .flatten()
            .filter(|b| b.host_ip.as_deref() == Some("127.0.0.1"))
            .find_map(|b| b.host_port.as_deref()?.parse().ok()),
        restart_count: c.restart_count.unwrap_or(0),
        started_at: state.and_then(|s| s.started_at.clone()).filter(|t| !t.is_empty() && t != NEVER),
        networks: {
            let mut attached: Vec<NetworkAttachment> = c
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .into_iter()
                .flatten()
                .map(|(network, endpoint)| NetworkAttachment {
                    network: network.clone(),
                    // Newer engines list the names a container answers to as `DNSNames` as
                    // well; `Aliases` keeps those given at create or connect on every version.
                    aliases: endpoint.aliases.clone().unwrap_or_default(),
                    address: endpoint.ip_address.as_deref().and_then(|a| a.parse().ok()),
                })
                .collect();
            attached.sort_by(|a, b| a.network.cmp(&b.network));
            attached
        },
        problem: None,
    };
    Some((tenant, observed))
}

fn container_state(c: &ContainerInspectResponse) -> ContainerState {
    let state = c.state.as_ref();
    match state.and_then(|s| s.status) {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        // Still up while it stops.
        Some(ContainerStateStatusEnum::RUNNING) | Some(ContainerStateStatusEnum::STOPPING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => {
            ContainerState::Exited { code: state.and_then(|s| s.exit_code).unwrap_or(0) }
        }
        // An engine that does not say is treated as one whose container cannot be used.
        Some(ContainerStateStatusEnum::DEAD) | Some(ContainerStateStatusEnum::EMPTY) | None => ContainerState::Dead,
    }
}

/// `field=hash,field=hash` → map; malformed pairs are dropped (the field then reads as changed).
fn parse_field_hashes(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Escapes regular-expression syntax, so the engine's name filter sees a literal.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_hashes_round_trip_and_tolerate_junk() {
        let m = parse_field_hashes("env=e1,image=i1,broken,=x,y=");
        assert_eq!(m, BTreeMap::from([("env".into(), "e1".into()), ("image".into(), "i1".into())]));
    }

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(regex_escape("prod-acme_1"), "prod-acme_1");
        assert_eq!(regex_escape("a.b+c"), "a\\.b\\+c");
    }
}
