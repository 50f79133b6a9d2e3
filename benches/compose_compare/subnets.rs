//! Free host ports and free /28 subnets for the sides that are told where to put their tenants
//! (the compose file and the floor), each from ranges of its own, so that they do the same IPAM
//! work as tenantd without colliding with it, with each other, or with anything on the engine.

use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;

use crate::engine;
use crate::scenario::Placement;

/// The prefix length of every tenant network.
pub const PREFIX: u32 = 28;

/// `n` host ports of `range` that nothing listens on, and `n` /28 subnets of the /16 `pool` that
/// overlap no network the engine has now.
pub fn place(n: usize, range: RangeInclusive<u16>, pool: Ipv4Addr) -> Placement {
    let ports: Vec<u16> = range.clone().filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok()).take(n).collect();
    assert!(ports.len() == n, "only {} of {n} ports of {range:?} are free", ports.len());
    Placement { ports, subnets: free_subnets(n, pool) }
}

fn free_subnets(n: usize, pool: Ipv4Addr) -> Vec<String> {
    let used = engine_subnets();
    let base = u32::from(pool) & mask(16);
    let size = 1u32 << (32 - PREFIX);
    let subnets: Vec<String> = (0..(1u32 << (PREFIX - 16)))
        .map(|i| base + i * size)
        .filter(|&net| used.iter().all(|&(addr, len)| !overlaps((net, PREFIX), (addr, len))))
        .take(n)
        .map(|net| format!("{}/{PREFIX}", Ipv4Addr::from(net)))
        .collect();
    assert!(subnets.len() == n, "only {} free /{PREFIX} subnets in {pool}/16", subnets.len());
    subnets
}

/// Every IPv4 subnet of every network on the engine.
fn engine_subnets() -> Vec<(u32, u32)> {
    let (code, nets) = engine::engine("GET", "/networks", None);
    assert!(code == 200, "cannot list the engine's networks: {code} {nets}");
    nets.as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["IPAM"]["Config"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| parse_cidr(c["Subnet"].as_str()?))
        .collect()
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (addr, len) = s.split_once('/')?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((u32::from(addr.parse::<Ipv4Addr>().ok()?), len))
}

/// Two subnets overlap when they agree on the bits of the shorter prefix.
fn overlaps((a, a_len): (u32, u32), (b, b_len): (u32, u32)) -> bool {
    let m = mask(a_len.min(b_len));
    a & m == b & m
}

fn mask(len: u32) -> u32 {
    u32::MAX.checked_shl(32 - len).unwrap_or(0)
}
