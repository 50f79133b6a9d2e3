//! The nftables table of one instance, rendered from the tenant networks that exist. Pure: the
//! same networks and settings always give the same text.

use std::collections::BTreeSet;
use std::fmt::Write;

use ipnet::Ipv4Net;

use super::settings::{HostPort, Protocol};

/// What a tenant network may reach besides itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Egress {
    /// Beyond the host (`egress: allow`): the engine's forwarding and NAT decide; of the host's
    /// own services only the allowlisted ports.
    Allow,
    /// Nothing but the network itself (`egress: deny`), the host included.
    Deny,
}

/// One tenant network as the rules see it: its IPv4 subnet and its egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GuardedNetwork {
    pub subnet: Ipv4Net,
    pub egress: Egress,
}

/// The whole table of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRules {
    /// `tenantd_<instance>`.
    pub table: String,
    pub networks: BTreeSet<GuardedNetwork>,
    pub host_allow: Vec<HostPort>,
    /// Let each network query DNS on its own address range of the host (port 53 of its
    /// gateway): Podman's DNS server for a network listens there, on the host. Docker's resolver
    /// lives inside each container and needs nothing of the host.
    pub engine_dns_on_gateway: bool,
}

/// The table's name for an instance. An instance is a DNS label (`[a-z0-9-]`), which nft takes
/// unquoted after a letter.
pub fn table_name(instance: &str) -> String {
    format!("tenantd_{instance}")
}

impl HostRules {
    /// The `nft -f` input that replaces the instance's table in one transaction: the first two
    /// lines make sure the table exists and delete it, the rest creates it anew, so rules never
    /// pile up and a reader never sees a half-written table.
    pub fn render(&self) -> String {
        let t = &self.table;
        let subnets = |egress: Option<Egress>| -> Vec<String> {
            outermost(self.networks.iter().filter(|n| egress.is_none_or(|e| n.egress == e)).map(|n| n.subnet))
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let own: Vec<String> =
            outermost(self.networks.iter().map(|n| n.subnet)).iter().map(|s| format!("{s} . {s}")).collect();
        let ports = |p: Protocol| -> Vec<String> {
            self.host_allow.iter().filter(|h| h.protocol == p).map(|h| h.port.to_string()).collect()
        };
        let reject = "reject with icmpx type admin-prohibited";

        let mut out = String::new();
        // Writing to a String cannot fail.
        let mut line = |s: &str| {
            let _ = writeln!(out, "{s}");
        };
        line("# Written by tenantd, replaced whole on every change: edits here are lost.");
        line(&format!("table inet {t}"));
        line(&format!("delete table inet {t}"));
        line(&format!("table inet {t} {{"));
        for (name, kind, flags, elements) in [
            ("tenant_nets", "ipv4_addr", "interval", subnets(None)),
            ("deny_nets", "ipv4_addr", "interval", subnets(Some(Egress::Deny))),
            ("allow_nets", "ipv4_addr", "interval", subnets(Some(Egress::Allow))),
            ("own_net", "ipv4_addr . ipv4_addr", "interval", own),
            ("host_tcp", "inet_service", "", ports(Protocol::Tcp)),
            ("host_udp", "inet_service", "", ports(Protocol::Udp)),
        ] {
            line(&format!("\tset {name} {{"));
            line(&format!("\t\ttype {kind}"));
            if !flags.is_empty() {
                line(&format!("\t\tflags {flags}"));
            }
            if !elements.is_empty() {
                line(&format!("\t\telements = {{ {} }}", elements.join(", ")));
            }
            line("\t}");
        }
        line("");
        // To the host: replies to what the host itself opened (health probes, published ports)
        // pass; anything a tenant network opens towards the host is refused but the allowlist.
        line("\tchain input {");
        line("\t\ttype filter hook input priority filter; policy accept;");
        line("\t\tip saddr != @tenant_nets accept");
        line("\t\tiif \"lo\" accept");
        line("\t\tct state established,related accept");
        if self.engine_dns_on_gateway {
            line("\t\tip saddr . ip daddr @own_net meta l4proto { tcp, udp } th dport 53 accept");
        }
        line("\t\tip saddr @allow_nets tcp dport @host_tcp accept");
        line("\t\tip saddr @allow_nets udp dport @host_udp accept");
        line(&format!("\t\tip saddr @tenant_nets {reject}"));
        line("\t}");
        line("");
        // Through the host: within one network passes (bridged traffic is seen here when the
        // bridge hands it to netfilter); a denied network talks to nothing else and nothing else
        // to it; no tenant network reaches another.
        line("\tchain forward {");
        line("\t\ttype filter hook forward priority filter; policy accept;");
        line("\t\tip saddr . ip daddr @own_net accept");
        line(&format!("\t\tip saddr @deny_nets {reject}"));
        line(&format!("\t\tip daddr @deny_nets {reject}"));
        line(&format!("\t\tip saddr @tenant_nets ip daddr @tenant_nets {reject}"));
        line("\t}");
        line("}");
        out
    }
}

/// The subnets not inside another one of them, each once: what an interval set takes without
/// overlapping elements.
fn outermost(subnets: impl Iterator<Item = Ipv4Net>) -> Vec<Ipv4Net> {
    let all: BTreeSet<Ipv4Net> = subnets.collect();
    all.iter().filter(|s| !all.iter().any(|o| o != *s && o.contains(*s))).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str, egress: Egress) -> GuardedNetwork {
        GuardedNetwork { subnet: subnet.parse().unwrap(), egress }
    }

    fn rules(networks: &[GuardedNetwork], allow: &[&str], dns: bool) -> HostRules {
        HostRules {
            table: table_name("acme-prod"),
            networks: networks.iter().copied().collect(),
            host_allow: allow.iter().map(|p| p.parse().unwrap()).collect(),
            engine_dns_on_gateway: dns,
        }
    }

    #[test]
    fn the_table_lists_each_network_by_egress_and_the_allowlist_by_protocol() {
        let text = rules(
            &[
                net("10.213.0.16/28", Egress::Deny),
                net("10.213.0.0/28", Egress::Allow),
                net("10.213.0.32/28", Egress::Deny),
            ],
            &["tcp/8080", "udp/53", "tcp/9000"],
            false,
        )
        .render();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn with_no_network_the_sets_are_empty_and_the_table_still_replaces_the_old_one() {
        let text = rules(&[], &[], false).render();
        assert!(!text.contains("elements"), "{text}");
        let head: Vec<&str> = text.lines().skip(1).take(3).collect();
        assert_eq!(
            head,
            ["table inet tenantd_acme-prod", "delete table inet tenantd_acme-prod", "table inet tenantd_acme-prod {"]
        );
        // Everything from a tenant network to the host is refused, nothing else.
        assert!(text.contains("ip saddr @tenant_nets reject"), "{text}");
        assert!(!text.contains("th dport 53"), "no DNS hole unless the engine serves DNS on the host: {text}");
    }

    #[test]
    fn podman_networks_may_query_dns_on_their_own_gateway_only() {
        let text = rules(&[net("10.213.0.0/28", Egress::Deny)], &[], true).render();
        assert!(text.contains("ip saddr . ip daddr @own_net meta l4proto { tcp, udp } th dport 53 accept"), "{text}");
        assert!(text.contains("elements = { 10.213.0.0/28 . 10.213.0.0/28 }"), "{text}");
    }

    #[test]
    fn overlapping_or_repeated_subnets_are_listed_once() {
        let text = rules(
            &[
                net("10.213.0.0/24", Egress::Allow),
                net("10.213.0.16/28", Egress::Allow),
                net("10.213.0.16/28", Egress::Deny),
            ],
            &[],
            false,
        )
        .render();
        assert!(text.contains("elements = { 10.213.0.0/24 }\n"), "{text}");
        assert!(text.contains("elements = { 10.213.0.0/24 . 10.213.0.0/24 }"), "{text}");
        assert!(text.contains("elements = { 10.213.0.16/28 }"), "the deny set keeps its own: {text}");
    }
}
