//! The floor: the same networks and containers created, started, updated and removed straight
//! through the engine's API (bollard, as tenantd uses), as many tenants at a time as tenantd's
//! `concurrency`, and nothing else: no reading of specs, observing, planning, probing or status.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use bollard::models::{ContainerCreateBody, ContainerUpdateBody, NetworkCreateRequest};
use bollard::query_parameters::{CreateContainerOptions, StopContainerOptions};
use bollard::Docker;
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};

use crate::engine;
use crate::scenario::{self, Placement, Scenario};
use crate::side::{Edit, Phase, Side, Step};
use crate::subnets;

/// Seconds the engine gives a container between SIGTERM and SIGKILL, as tenantd's stop does.
pub const STOP_TIMEOUT_SECS: i32 = 10;

pub struct FloorSide {
    rt: tokio::runtime::Runtime,
    docker: Docker,
    prefix: String,
    run_id: String,
    ports: RangeInclusive<u16>,
    pool: Ipv4Addr,
    concurrency: usize,
    /// Ports and subnets of the current tenants, chosen anew at each cold start.
    placement: Option<Placement>,
    /// The calls `run` makes, worked out by `prepare`.
    plan: Vec<Call>,
}

/// One tenant's worth of API calls.
enum Call {
    Create { network: Box<NetworkCreateRequest>, name: String, body: Box<ContainerCreateBody> },
    Replace { name: String, body: Box<ContainerCreateBody> },
    Update { name: String, memory: i64 },
    Remove { name: String },
}

impl FloorSide {
    pub fn new(prefix: &str, run_id: &str, ports: RangeInclusive<u16>, pool: Ipv4Addr, concurrency: usize) -> Self {
        let (rt, docker) = client();
        FloorSide {
            rt,
            docker,
            prefix: prefix.to_string(),
            run_id: run_id.to_string(),
            ports,
            pool,
            concurrency,
            placement: None,
            plan: Vec::new(),
        }
    }

    fn labels_json(&self) -> Value {
        json!({ "io.tenantd.bench": self.run_id, "io.tenantd.bench.side": "floor" })
    }

    fn container_body(&self, s: &Scenario, i: usize) -> Box<ContainerCreateBody> {
        let placement = self.placement.as_ref().expect("placed at the cold start");
        let t = &s.tenants[i];
        let network = self.container_name(&t.name);
        let body = scenario::floor_container_body(s, t, &network, placement.ports[i], &self.labels_json());
        Box::new(serde_json::from_value(body).expect("a create body bollard reads"))
    }
}

impl Side for FloorSide {
    fn label(&self) -> &'static str {
        "floor"
    }

    fn command(&self, phase: Phase) -> String {
        let c = self.concurrency;
        match phase {
            Phase::Cold => format!("floor: API create network, create, start; {c} at a time"),
            Phase::NoOp => "floor: nothing to do".into(),
            Phase::Change => "floor: API stop, remove, create, start".into(),
            Phase::InPlace => "floor: API update".into(),
            Phase::Teardown => format!("floor: API stop, remove, remove network; {c} at a time"),
        }
    }

    fn container_name(&self, tenant: &str) -> String {
        format!("{}_{tenant}", self.prefix)
    }

    fn labels(&self) -> Vec<String> {
        vec![format!("io.tenantd.bench={}", self.run_id), "io.tenantd.bench.side=floor".to_string()]
    }

    fn prepare(&mut self, s: &Scenario, step: Step) {
        self.plan = match step {
            Step::Cold => {
                let placement = subnets::place(s.tenants.len(), self.ports.clone(), self.pool);
                let networks: Vec<Box<NetworkCreateRequest>> = s
                    .tenants
                    .iter()
                    .zip(&placement.subnets)
                    .map(|(t, subnet)| {
                        let body =
                            scenario::floor_network_body(&self.container_name(&t.name), subnet, &self.labels_json());
                        Box::new(serde_json::from_value(body).expect("a network body bollard reads"))
                    })
                    .collect();
                self.placement = Some(placement);
                networks
                    .into_iter()
                    .enumerate()
                    .map(|(i, network)| Call::Create {
                        network,
                        name: self.container_name(&s.tenants[i].name),
                        body: self.container_body(s, i),
                    })
                    .collect()
            }
            Step::NoOp => Vec::new(),
            Step::Edit(i, Edit::Env) => {
                vec![Call::Replace { name: self.container_name(&s.tenants[i].name), body: self.container_body(s, i) }]
            }
            Step::Edit(i, Edit::Memory) => vec![Call::Update {
                name: self.container_name(&s.tenants[i].name),
                memory: i64::try_from(s.tenants[i].memory_bytes()).expect("a memory limit in range"),
            }],
            Step::Teardown => s.tenants.iter().map(|t| Call::Remove { name: self.container_name(&t.name) }).collect(),
        };
    }

    fn run(&mut self, step: Step) -> bool {
        if matches!(step, Step::NoOp) {
            return false;
        }
        let docker = &self.docker;
        let calls = std::mem::take(&mut self.plan);
        let failures: Vec<String> = self.rt.block_on(
            stream::iter(calls)
                .map(|call| perform(docker, call))
                .buffer_unordered(self.concurrency)
                .filter_map(|r| async move { r.err() })
                .collect(),
        );
        assert!(failures.is_empty(), "the floor's API calls failed: {failures:#?}");
        true
    }
}

/// A runtime (two worker threads on this machine, like tenantd's own) and a client of the
/// engine's socket, at the API version the engine speaks.
pub fn client() -> (tokio::runtime::Runtime, Docker) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let socket = engine::socket_path();
    let docker = rt.block_on(async {
        Docker::connect_with_unix(&socket.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)
            .expect("a client of the engine's socket")
            .negotiate_version()
            .await
            .expect("the engine answers /version")
    });
    (rt, docker)
}

async fn perform(docker: &Docker, call: Call) -> Result<(), String> {
    let fail = |what: &str, name: &str, e: bollard::errors::Error| format!("{what} {name}: {e}");
    match call {
        Call::Create { network, name, body } => {
            docker.create_network(*network).await.map_err(|e| fail("create network", &name, e))?;
            create_and_start(docker, &name, *body).await
        }
        Call::Replace { name, body } => {
            stop_and_remove(docker, &name).await?;
            create_and_start(docker, &name, *body).await
        }
        Call::Update { name, memory } => {
            // All the limits, as tenantd's update sends them.
            let update = ContainerUpdateBody {
                memory: Some(memory),
                memory_swap: Some(memory),
                nano_cpus: Some(250_000_000),
                pids_limit: Some(64),
                ..Default::default()
            };
            docker.update_container(&name, update).await.map_err(|e| fail("update", &name, e))
        }
        Call::Remove { name } => {
            stop_and_remove(docker, &name).await?;
            docker.remove_network(&name).await.map_err(|e| fail("remove network", &name, e))
        }
    }
}

async fn create_and_start(docker: &Docker, name: &str, body: ContainerCreateBody) -> Result<(), String> {
    let options = CreateContainerOptions { name: Some(name.to_string()), ..Default::default() };
    let created = docker.create_container(Some(options), body).await.map_err(|e| format!("create {name}: {e}"))?;
    docker.start_container(&created.id, None).await.map_err(|e| format!("start {name}: {e}"))
}

async fn stop_and_remove(docker: &Docker, name: &str) -> Result<(), String> {
    let stop = StopContainerOptions { t: Some(STOP_TIMEOUT_SECS), signal: None };
    docker.stop_container(name, Some(stop)).await.map_err(|e| format!("stop {name}: {e}"))?;
    docker.remove_container(name, None).await.map_err(|e| format!("remove {name}: {e}"))
}
