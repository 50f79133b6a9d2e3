//! Where the engine's own time goes: the floor's calls for N tenants, one kind of call at a
//! time (every network created, then every container created, started, stopped, removed, every
//! network removed), once one tenant at a time and once `concurrency` at a time. A kind of call
//! that does not get faster with concurrency is serialized inside the engine, and bounds what
//! any client making that call can reach, tenantd and docker-compose alike.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, NetworkCreateRequest};
use bollard::query_parameters::{CreateContainerOptions, StopContainerOptions};
use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt};
use serde_json::json;

use crate::floor_side::{self, STOP_TIMEOUT_SECS};
use crate::scenario::{self, Scenario};
use crate::subnets;

/// The kinds of call, in the order they run.
pub const CALLS: [&str; 6] =
    ["create network", "create container", "start container", "stop container", "remove container", "remove network"];

/// One engine call of one tenant.
type Call<'a> = BoxFuture<'a, Result<(), String>>;

/// Wall time of each kind of call for every tenant of `s`, `concurrency` at a time, in the order
/// of [`CALLS`]. Everything it creates carries the run's label and is gone when it returns.
pub fn engine_calls(
    s: &Scenario,
    run_id: &str,
    ports: RangeInclusive<u16>,
    pool: Ipv4Addr,
    concurrency: usize,
) -> Vec<Duration> {
    let (rt, docker) = floor_side::client();
    let labels = json!({ "io.tenantd.bench": run_id, "io.tenantd.bench.side": "profile" });
    let placement = subnets::place(s.tenants.len(), ports, pool);
    let names: Vec<String> = s.tenants.iter().map(|t| format!("{run_id}p_{}", t.name)).collect();
    let networks: Vec<NetworkCreateRequest> = names
        .iter()
        .zip(&placement.subnets)
        .map(|(name, subnet)| {
            serde_json::from_value(scenario::floor_network_body(name, subnet, &labels)).expect("a network body")
        })
        .collect();
    let bodies: Vec<ContainerCreateBody> = s
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let body = scenario::floor_container_body(s, t, &names[i], placement.ports[i], &labels);
            serde_json::from_value(body).expect("a create body")
        })
        .collect();

    let docker = &docker;
    let timed = |calls: Vec<Call<'_>>| {
        let started = Instant::now();
        let failures: Vec<String> = rt.block_on(
            stream::iter(calls).buffer_unordered(concurrency).filter_map(|r| async move { r.err() }).collect(),
        );
        assert!(failures.is_empty(), "the profile's engine calls failed: {failures:#?}");
        started.elapsed()
    };
    let mut times = Vec::new();
    times.push(timed(
        networks
            .into_iter()
            .map(|n| Box::pin(async move { docker.create_network(n).await.map(drop).map_err(|e| e.to_string()) }) as _)
            .collect(),
    ));
    times.push(timed(
        names
            .iter()
            .zip(bodies)
            .map(|(name, body)| {
                Box::pin(async move {
                    let options = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
                    docker.create_container(Some(options), body).await.map(drop).map_err(|e| e.to_string())
                }) as _
            })
            .collect(),
    ));
    let e = |e: bollard::errors::Error| e.to_string();
    times
        .push(timed(each(&names, |name| Box::pin(async move { docker.start_container(name, None).await.map_err(e) }))));
    times.push(timed(each(&names, |name| {
        Box::pin(async move {
            let stop = StopContainerOptions { t: Some(STOP_TIMEOUT_SECS), signal: None };
            docker.stop_container(name, Some(stop)).await.map_err(e)
        })
    })));
    times.push(timed(each(&names, |name| {
        Box::pin(async move { docker.remove_container(name, None).await.map_err(e) })
    })));
    times.push(timed(each(&names, |name| Box::pin(async move { docker.remove_network(name).await.map_err(e) }))));
    times
}

/// `call` for every name.
fn each<'a>(names: &'a [String], call: impl Fn(&'a str) -> Call<'a>) -> Vec<Call<'a>> {
    names.iter().map(|name| call(name)).collect()
}

/// Prints the profile: `one` (one at a time) against `many` (`concurrency` at a time), per
/// kind of call and summed per phase.
pub fn print(n: usize, concurrency: usize, one: &[Duration], many: &[Duration]) {
    println!();
    println!("| engine profile: each kind of call for all {n} tenants, s | 1 at a time | {concurrency} at a time | speed-up | per tenant at {concurrency}, ms |");
    println!("|---|---:|---:|---:|---:|");
    let row = |label: &str, a: f64, b: f64| {
        println!("| {label} | {a:.2} | {b:.2} | {:.1}× | {:.0} |", a / b, b * 1000.0 / n as f64);
    };
    for (i, call) in CALLS.iter().enumerate() {
        row(call, one[i].as_secs_f64(), many[i].as_secs_f64());
    }
    let sum = |d: &[Duration], r: std::ops::Range<usize>| d[r].iter().map(Duration::as_secs_f64).sum::<f64>();
    row("cold: create network + create + start", sum(one, 0..3), sum(many, 0..3));
    row("teardown: stop + remove + remove network", sum(one, 3..6), sum(many, 3..6));
    println!(
        "a kind of call that barely speeds up with concurrency is serialized inside the engine: its time at \
         {concurrency} at a time is a floor for every client that makes it"
    );
}
