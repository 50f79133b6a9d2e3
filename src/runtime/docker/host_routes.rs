//! The IPv4 networks this host already routes, read from `/proc/net/route`.
//!
//! A tenant network's bridge adds a route for its subnet on the engine's host. If another bridge
//! (another engine such as Podman, a VPN, a libvirt network) already routes an overlapping
//! subnet, the engine does not know and accepts the subnet; the two then shadow each other and
//! the tenant's published port stops answering. So the allocator skips any subnet the host
//! already routes. This only means something when the engine runs on this host (a unix socket).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

const ROUTE_TABLE: &str = "/proc/net/route";

/// The destinations of this host's IPv4 routes, without the default route. An unreadable table
/// is an empty set: the engine's own check on create still applies.
pub(super) fn routed_subnets() -> BTreeSet<Ipv4Net> {
    std::fs::read_to_string(ROUTE_TABLE).map(|table| parse(&table)).unwrap_or_default()
}

/// Parses the kernel's route table: a header line, then `Iface Destination Gateway Flags RefCnt
/// Use Metric Mask …` with addresses as little-endian hex.
fn parse(table: &str) -> BTreeSet<Ipv4Net> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = hex_address(fields.get(1)?)?;
            let mask = hex_address(fields.get(7)?)?;
            let prefix = u32::from(mask).count_ones() as u8;
            // The default route covers everything; it says nothing about a subnet being in use.
            if prefix == 0 {
                return None;
            }
            Ipv4Net::new(destination, prefix).ok().map(|n| n.trunc())
        })
        .collect()
}

fn hex_address(field: &str) -> Option<Ipv4Addr> {
    let raw = u32::from_str_radix(field, 16).ok()?;
    Some(Ipv4Addr::from(raw.swap_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_without_the_default_route() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            cni-podman1\t0000D50A\t00000000\t0001\t0\t0\t0\tF0FFFFFF\t0\t0\t0\n\
            garbage line\n";
        let routed: Vec<String> = parse(table).iter().map(ToString::to_string).collect();
        assert_eq!(routed, ["10.213.0.0/28", "192.0.2.0/24"]);
    }

    #[test]
    fn this_hosts_table_parses() {
        // What this host routes is not known here; the default route must never be among it.
        for net in routed_subnets() {
            assert!(net.prefix_len() > 0, "{net}");
        }
    }
}
