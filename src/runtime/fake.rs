//! `FakeRuntime`: an in-memory runtime for tests of pure logic (reconcile, status) and for
//! benchmarks without an engine. It records every call and keeps a world that behaves like an
//! engine for the calls tenantd makes. It is a fake: nothing here proves the Docker adapter.

use std::sync::Mutex;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use super::*;
use crate::render::{DesiredContainer, DesiredNetwork, ImageSource, Limits};
use crate::spec::TenantName;

/// A call the fake received, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Observe,
    EnsureImage(String),
    CreateNetwork(String),
    RemoveNetwork(String),
    CreateVolume(String),
    CreateContainer(String),
    StartContainer(String),
    StopContainer(String),
    RemoveContainer(String),
    UpdateLimits(String),
    RenameContainer(String, String),
    /// The container and the network.
    ConnectNetwork(String, String),
    DisconnectNetwork(String, String),
    /// The ownership marker was written (created or replaced) with this owner id.
    RecordOwner(String),
    RestartContainer(String),
    SignalContainer(String, String),
    Stats(String),
    Logs(String),
    /// The container and the command.
    Exec(String, Vec<String>),
}

impl Call {
    /// True for calls that change the world.
    pub fn is_mutation(&self) -> bool {
        !matches!(self, Call::Observe | Call::Stats(_) | Call::Logs(_))
    }
}

#[derive(Default)]
struct State {
    world: ObservedWorld,
    calls: Vec<Call>,
    /// Containers created so far per name, so ids are deterministic whatever the order of calls.
    generations: std::collections::BTreeMap<String, u32>,
    /// Image references whose pull fails.
    failing_pulls: Vec<String>,
    /// What `logs` and `exec` answer per container id: the output and the exit code.
    output: std::collections::BTreeMap<String, (Vec<LogChunk>, i64)>,
    /// Calls that fail (after being recorded), with the message they fail with.
    failing: Vec<(CallMatcher, String)>,
    /// The instance's ownership marker.
    owner: Option<InstanceOwner>,
}

/// Says which calls an injected failure hits.
type CallMatcher = Box<dyn Fn(&Call) -> bool + Send>;

#[derive(Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
}

impl FakeRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().expect("fake lock").calls.clone()
    }

    pub fn clear_calls(&self) {
        self.state.lock().expect("fake lock").calls.clear();
    }

    /// Makes pulls of `reference` fail from now on.
    pub fn fail_pulls_of(&self, reference: &str) {
        self.state.lock().expect("fake lock").failing_pulls.push(reference.to_string());
    }

    /// Makes every call for which `matches` is true fail from now on, with an engine error
    /// saying `message`; the call is recorded and changes nothing.
    pub fn fail_calls(&self, matches: impl Fn(&Call) -> bool + Send + 'static, message: &str) {
        self.state.lock().expect("fake lock").failing.push((Box::new(matches), message.to_string()));
    }

    /// The ownership marker as it is now.
    pub fn recorded_owner(&self) -> Option<InstanceOwner> {
        self.state.lock().expect("fake lock").owner.clone()
    }

    /// What `logs` of container `id` yields and `exec` in it writes, and the exit code `exec`
    /// returns (else no output and 0).
    pub fn set_output(&self, id: &str, chunks: Vec<LogChunk>, exit_code: i64) {
        self.state.lock().expect("fake lock").output.insert(id.to_string(), (chunks, exit_code));
    }

    /// Runs `f` on the world, e.g. to simulate a change behind tenantd's back.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut ObservedWorld) -> R) -> R {
        f(&mut self.state.lock().expect("fake lock").world)
    }

    /// Records `call`, and fails it when an injected failure says so.
    fn record(s: &mut State, call: Call) -> Result<(), RuntimeError> {
        let failure = s.failing.iter().find(|(m, _)| m(&call)).map(|(_, message)| message.clone());
        let operation = format!("{call:?}");
        s.calls.push(call);
        match failure {
            Some(message) => Err(RuntimeError::Engine { operation, message }),
            None => Ok(()),
        }
    }

    fn find_container<'w>(world: &'w mut ObservedWorld, id: &str) -> Option<&'w mut ObservedContainer> {
        world.tenants.values_mut().flat_map(|t| t.containers.iter_mut()).find(|c| c.id == id)
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    fn family(&self) -> Family<'_> {
        Family::Containers(self)
    }
    fn describe(&self) -> String {
        "fake runtime (in memory)".into()
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn observe(&self, images: &[String], _names: &[String]) -> Result<ObservedWorld, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        s.calls.push(Call::Observe);
        let mut world = s.world.clone();
        world.tenants.retain(|_, t| t.network.is_some() || !t.containers.is_empty() || !t.volumes.is_empty());
        world.images = images.iter().map(|r| (r.clone(), s.world.images.get(r).cloned().flatten())).collect();
        Ok(world)
    }

    async fn owner(&self) -> Result<Option<InstanceOwner>, RuntimeError> {
        Ok(self.state.lock().expect("fake lock").owner.clone())
    }

    async fn claim_owner(&self, owner: &InstanceOwner, replace: bool) -> Result<InstanceOwner, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        match s.owner.clone() {
            Some(recorded) if recorded.id == owner.id || !replace => Ok(recorded),
            _ => {
                Self::record(&mut s, Call::RecordOwner(owner.id.clone()))?;
                s.owner = Some(owner.clone());
                Ok(owner.clone())
            }
        }
    }

    async fn observe_tenant(
        &self,
        tenant: &TenantName,
        images: &[String],
        names: &[String],
    ) -> Result<ObservedWorld, RuntimeError> {
        let mut world = self.observe(images, names).await?;
        world.tenants.retain(|t, _| t == tenant);
        Ok(world)
    }

    async fn events(&self) -> Result<BoxStream<'static, Result<EngineEvent, RuntimeError>>, RuntimeError> {
        // The fake has no engine to report changes; a stream that never yields.
        Ok(Box::pin(futures_util::stream::pending()))
    }
}

#[async_trait]
impl ContainerEngine for FakeRuntime {
    async fn ensure_image(&self, image: &ImageSource) -> Result<ImageOutcome, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        let reference = image.reference().to_string();
        s.calls.push(Call::EnsureImage(reference.clone()));
        if s.failing_pulls.contains(&reference) {
            return Err(RuntimeError::ImagePull { reference, message: "fake registry refuses".into() });
        }
        let id = format!("sha256:{:064x}", reference.len());
        s.world.images.insert(reference, Some(id.clone()));
        Ok(ImageOutcome::AlreadyPresent { id })
    }

    async fn create_network(&self, tenant: &TenantName, network: &DesiredNetwork) -> Result<String, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::CreateNetwork(network.name.clone()))?;
        let t = s.world.tenants.entry(tenant.clone()).or_insert_with(|| ObservedTenant::empty(tenant.clone()));
        let id = format!("net-{}", network.name);
        t.network = Some(ObservedNetwork { id: id.clone(), name: network.name.clone(), internal: network.internal });
        Ok(id)
    }

    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::RemoveNetwork(name.to_string()))?;
        for t in s.world.tenants.values_mut() {
            if t.network.as_ref().is_some_and(|n| n.name == name) {
                t.network = None;
            }
        }
        Ok(())
    }

    async fn create_volume(&self, tenant: &TenantName, name: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::CreateVolume(name.to_string()))?;
        let t = s.world.tenants.entry(tenant.clone()).or_insert_with(|| ObservedTenant::empty(tenant.clone()));
        if !t.volumes.iter().any(|v| v == name) {
            t.volumes.push(name.to_string());
            t.volumes.sort();
        }
        Ok(())
    }

    async fn create_container(
        &self,
        tenant: &TenantName,
        spec_hash: &str,
        c: &DesiredContainer,
        network: &str,
        host_port: Option<u16>,
    ) -> Result<String, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::CreateContainer(c.name.clone()))?;
        let generation = s.generations.entry(c.name.clone()).or_insert(0);
        *generation += 1;
        let id = format!("fake-{}-{}", c.name, generation);
        let created: u32 = s.generations.values().sum();
        let address = std::net::Ipv4Addr::new(10, 88, (created / 250) as u8, (created % 250) as u8 + 2);
        let image_id = s.world.images.get(c.image.reference()).cloned().flatten().unwrap_or_default();
        let t = s.world.tenants.entry(tenant.clone()).or_insert_with(|| ObservedTenant::empty(tenant.clone()));
        if t.containers.iter().any(|o| o.name == c.name) {
            return Err(RuntimeError::Engine {
                operation: format!("create container {}", c.name),
                message: "name in use".into(),
            });
        }
        t.containers.push(ObservedContainer {
            id: id.clone(),
            name: c.name.clone(),
            role: c.role.clone(),
            image_ref: c.image.reference().to_string(),
            image_id,
            config_hash: Some(c.config_hash.clone()),
            field_hashes: c.field_hashes.clone(),
            spec_hash: Some(spec_hash.to_string()),
            applied: Some(c.applied.clone()),
            state: ContainerState::Created,
            health: if c.health.is_some() { EngineHealth::Starting } else { EngineHealth::None },
            limits: c.limits,
            host_port: if c.publish_port.is_some() { host_port } else { None },
            restart_count: 0,
            started_at: None,
            networks: vec![NetworkAttachment {
                network: network.to_string(),
                aliases: vec![c.alias.clone()],
                address: Some(address),
            }],
            problem: None,
        });
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::StartContainer(id.to_string()))?;
        if let Some(c) = Self::find_container(&mut s.world, id) {
            c.state = ContainerState::Running;
            if c.health != EngineHealth::None {
                c.health = EngineHealth::Healthy;
            }
        }
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout_secs: u32) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::StopContainer(id.to_string()))?;
        if let Some(c) = Self::find_container(&mut s.world, id) {
            c.state = ContainerState::Exited { code: 0 };
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::RemoveContainer(id.to_string()))?;
        for t in s.world.tenants.values_mut() {
            t.containers.retain(|c| c.id != id);
        }
        Ok(())
    }

    async fn update_limits(&self, id: &str, limits: &Limits) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::UpdateLimits(id.to_string()))?;
        if let Some(c) = Self::find_container(&mut s.world, id) {
            c.limits = *limits;
        }
        Ok(())
    }

    async fn connect_network(&self, id: &str, network: &str, aliases: &[String]) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::ConnectNetwork(id.to_string(), network.to_string()))?;
        if let Some(c) = Self::find_container(&mut s.world, id) {
            if !c.networks.iter().any(|a| a.network == network) {
                c.networks.push(NetworkAttachment {
                    network: network.to_string(),
                    aliases: aliases.to_vec(),
                    address: None,
                });
                c.networks.sort_by(|a, b| a.network.cmp(&b.network));
            }
        }
        Ok(())
    }

    async fn disconnect_network(&self, id: &str, network: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::DisconnectNetwork(id.to_string(), network.to_string()))?;
        if let Some(c) = Self::find_container(&mut s.world, id) {
            c.networks.retain(|a| a.network != network);
        }
        Ok(())
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::RenameContainer(id.to_string(), new_name.to_string()))?;
        let taken = s.world.tenants.values().flat_map(|t| &t.containers).any(|c| c.name == new_name && c.id != id);
        if taken {
            return Err(RuntimeError::Engine {
                operation: format!("rename container {id} to {new_name}"),
                message: "name in use".into(),
            });
        }
        if let Some(c) = Self::find_container(&mut s.world, id) {
            c.name = new_name.to_string();
        }
        Ok(())
    }

    async fn address(&self, id: &str, network: &str) -> Result<Option<std::net::Ipv4Addr>, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Ok(Self::find_container(&mut s.world, id)
            .and_then(|c| c.networks.iter().find(|n| n.network == network).and_then(|n| n.address)))
    }

    async fn restart_container(&self, id: &str, _timeout_secs: u32) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::RestartContainer(id.to_string()))?;
        if let Some(c) = Self::find_container(&mut s.world, id) {
            c.state = ContainerState::Running;
            c.restart_count += 1;
        }
        Ok(())
    }

    async fn signal_container(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        Self::record(&mut s, Call::SignalContainer(id.to_string(), signal.to_string()))?;
        match Self::find_container(&mut s.world, id) {
            Some(c) if c.state == ContainerState::Running => Ok(()),
            _ => {
                Err(RuntimeError::Engine { operation: format!("signal container {id}"), message: "not running".into() })
            }
        }
    }

    async fn stats(&self, id: &str) -> Result<ResourceSample, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        s.calls.push(Call::Stats(id.to_string()));
        let limit = Self::find_container(&mut s.world, id).map(|c| c.limits.memory_bytes.max(0) as u64).unwrap_or(0);
        Ok(ResourceSample {
            cpu_total_ns: 0,
            system_cpu_ns: 0,
            online_cpus: 1,
            memory_bytes: 0,
            memory_limit_bytes: limit,
            network_rx_bytes: Some(0),
            network_tx_bytes: Some(0),
        })
    }

    async fn logs(
        &self,
        id: &str,
        _request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError> {
        let mut s = self.state.lock().expect("fake lock");
        s.calls.push(Call::Logs(id.to_string()));
        if Self::find_container(&mut s.world, id).is_none() {
            return Err(RuntimeError::Engine {
                operation: format!("read logs of container {id}"),
                message: "no such container".into(),
            });
        }
        let chunks = s.output.get(id).map(|(c, _)| c.clone()).unwrap_or_default();
        Ok(Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok))))
    }

    async fn exec(&self, id: &str, request: &ExecRequest, mut io: ExecIo) -> Result<i64, RuntimeError> {
        use tokio::io::AsyncWriteExt;
        let (chunks, code) = {
            let mut s = self.state.lock().expect("fake lock");
            s.calls.push(Call::Exec(id.to_string(), request.command.clone()));
            match Self::find_container(&mut s.world, id) {
                Some(c) if c.state == ContainerState::Running => {}
                _ => {
                    return Err(RuntimeError::Engine {
                        operation: format!("run a command in container {id}"),
                        message: "the container is not running".into(),
                    })
                }
            }
            s.output.get(id).cloned().unwrap_or_default()
        };
        for chunk in chunks {
            let (out, bytes) = match &chunk {
                LogChunk::Stdout(b) => (&mut io.stdout, b),
                LogChunk::Stderr(b) => (&mut io.stderr, b),
            };
            out.write_all(bytes)
                .await
                .map_err(|source| RuntimeError::Local { operation: format!("exec in {id}: write"), source })?;
        }
        Ok(code)
    }
}
