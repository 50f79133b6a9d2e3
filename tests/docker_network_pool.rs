//! Tenant networks on the real engine take their subnets from tenantd's own pool: a subnet held
//! by another network is skipped, concurrent creates get distinct subnets, and a full pool is an
//! error that names the setting to change.

#[path = "support/docker.rs"]
mod docker_support;

use std::collections::BTreeSet;

use docker_support::{docker, docker_ok, docker_test, inspect, TEST_OWNER};
use tenantd::render::DesiredNetwork;
use tenantd::runtime::docker::{DockerRuntime, SubnetPool};
use tenantd::runtime::{ContainerEngine, RuntimeError};
use tenantd::spec::TenantName;

/// Every IPv4 subnet of a network on the engine.
fn engine_subnets() -> Vec<(u32, u32)> {
    // Another test may remove a network between the listing and the inspect: list again.
    for _ in 0..10 {
        let ids = docker_ok(&["network", "ls", "-q"]);
        let mut args = vec!["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"];
        args.extend(ids.split_whitespace());
        let (ok, out, _) = docker(&args);
        if ok {
            return out.split_whitespace().filter_map(parse_cidr).collect();
        }
    }
    panic!("the engine's networks kept changing while being listed")
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, len) = s.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    Some((u32::from(ip), len.parse().ok()?))
}

fn overlaps((a, al): (u32, u32), (b, bl): (u32, u32)) -> bool {
    let len = al.min(bl);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == b & mask
}

/// A /`len` block of 10.216.0.0/16 that no network on the engine overlaps, chosen from this
/// process's id so concurrent runs rarely meet (and a meeting only makes the engine refuse), and
/// a different one for each test of this process.
fn unused_block(len: u32) -> String {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let taken = engine_subnets();
    let size = 1u32 << (32 - len);
    let base = u32::from(std::net::Ipv4Addr::new(10, 216, 0, 0));
    let blocks = (1u32 << 16) / size;
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = (std::process::id() + call * (blocks / 8 + 1)) % blocks;
    (0..blocks)
        .map(|i| base + ((start + i) % blocks) * size)
        .find(|b| !taken.iter().any(|t| overlaps(*t, (*b, len))))
        .map(|b| format!("{}/{len}", std::net::Ipv4Addr::from(b)))
        .expect("a free block in 10.216.0.0/16")
}

fn subnet_of(network: &str) -> String {
    inspect(network)["IPAM"]["Config"][0]["Subnet"].as_str().unwrap_or_default().to_string()
}

fn tenant(name: &str) -> TenantName {
    name.parse().expect("a valid tenant name")
}

#[tokio::test]
async fn a_taken_subnet_is_skipped_and_a_full_pool_names_the_setting() {
    let Some(t) = docker_test("network pool: taken and full").await else {
        return;
    };
    // Two /28s; another network holds the first.
    let pool = unused_block(27);
    let (first, second) = {
        let (ip, _) = parse_cidr(&pool).unwrap();
        (format!("{}/28", std::net::Ipv4Addr::from(ip)), format!("{}/28", std::net::Ipv4Addr::from(ip + 16)))
    };
    let foreign = t.name("foreign-net");
    let owner = format!("{TEST_OWNER}={}", t.instance);
    docker_ok(&["network", "create", "--label", &owner, "--subnet", &first, &foreign]);
    let rt = DockerRuntime::connect(&t.instance, None, vec![])
        .unwrap()
        .with_subnet_pool(SubnetPool::new(&pool, 28).unwrap());

    let a = DesiredNetwork { name: t.name("a"), internal: false };
    rt.create_network(&tenant("a"), &a).await.unwrap();
    assert_eq!(subnet_of(&a.name), second, "the subnet another network holds is skipped");
    // Creating it again adopts it.
    rt.create_network(&tenant("a"), &a).await.unwrap();
    assert_eq!(subnet_of(&a.name), second);

    let b = DesiredNetwork { name: t.name("b"), internal: true };
    let err = rt.create_network(&tenant("b"), &b).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Engine { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "create network {} failed: no free subnet left among the /28 subnets of {pool} ([docker] network_pool and network_prefix)",
            b.name
        )
    );
    let (gone, _, _) = docker_support::docker(&["network", "inspect", &b.name]);
    assert!(!gone, "no network is left behind for the tenant that did not fit");
}

#[tokio::test]
async fn concurrent_creates_get_distinct_subnets() {
    let Some(t) = docker_test("network pool: concurrent creates").await else {
        return;
    };
    // Exactly as many /28s as networks: every one must find its own.
    let pool = unused_block(26);
    let rt = DockerRuntime::connect(&t.instance, None, vec![])
        .unwrap()
        .with_subnet_pool(SubnetPool::new(&pool, 28).unwrap());
    let networks: Vec<(TenantName, DesiredNetwork)> = (0..4)
        .map(|i| (tenant(&format!("n{i}")), DesiredNetwork { name: t.name(&format!("n{i}")), internal: i % 2 == 0 }))
        .collect();
    let results = futures_util::future::join_all(networks.iter().map(|(tn, n)| rt.create_network(tn, n))).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let subnets: BTreeSet<String> = networks.iter().map(|(_, n)| subnet_of(&n.name)).collect();
    assert_eq!(subnets.len(), 4, "{subnets:?}");
    let (base, _) = parse_cidr(&pool).unwrap();
    for s in &subnets {
        let cidr = parse_cidr(s).expect("a subnet");
        assert!(overlaps(cidr, (base, 26)) && cidr.1 == 28, "{s} is a /28 of {pool}");
    }
}

/// A bridge this test adds on the host, with one address; deleted on drop.
struct HostBridge(String);

impl HostBridge {
    fn add(address: &str) -> HostBridge {
        let name = format!("tdr{:x}", std::process::id());
        let ip = |args: &[&str]| {
            let out = std::process::Command::new("ip").args(args).output().expect("run ip");
            assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        ip(&["link", "add", &name, "type", "bridge"]);
        let bridge = HostBridge(name);
        ip(&["addr", "add", address, "dev", &bridge.0]);
        ip(&["link", "set", &bridge.0, "up"]);
        bridge
    }
}

impl Drop for HostBridge {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

/// Another engine (Podman's CNI bridges), a VPN or libvirt can route a subnet of the pool
/// without Docker knowing; a tenant network there would shadow it, or be shadowed.
#[tokio::test]
async fn a_subnet_the_host_already_routes_is_skipped() {
    let Some(t) = docker_test("network pool: host routes").await else {
        return;
    };
    let pool = unused_block(27);
    let (ip, _) = parse_cidr(&pool).unwrap();
    let first_host = format!("{}/28", std::net::Ipv4Addr::from(ip + 1));
    let second = format!("{}/28", std::net::Ipv4Addr::from(ip + 16));
    let _bridge = HostBridge::add(&first_host);
    let rt = DockerRuntime::connect(&t.instance, None, vec![])
        .unwrap()
        .with_subnet_pool(SubnetPool::new(&pool, 28).unwrap());

    let a = DesiredNetwork { name: t.name("routed"), internal: false };
    rt.create_network(&tenant("a"), &a).await.unwrap();
    assert_eq!(subnet_of(&a.name), second, "the subnet the host routes is skipped");
    rt.remove_network(&a.name).await.unwrap();
}
