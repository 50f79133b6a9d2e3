//! Keeping tenant networks off the host: an nftables table per instance (`inet
//! tenantd_<instance>`) that refuses everything a tenant network opens towards the host's own
//! services (except `[network] host_allow` ports, for networks with egress allowed), and
//! everything a network with egress denied sends anywhere but within itself.
//!
//! Container engines filter what crosses their bridges, not what reaches the host: a service on
//! the host bound to `0.0.0.0` answers a container through its network's gateway address, and
//! an internal (`egress: deny`) network stops nothing of that. The rules match tenant traffic
//! by source address, the subnets of this instance's networks as the engine reports them, so
//! they hold whatever the bridges are named and whichever engine (Docker, Podman) made them,
//! and never touch traffic of the host's other interfaces. Tenant networks are IPv4 only
//! (tenantd never enables IPv6 on them) and their containers get no IPv6 at all (see the
//! runtime's create body), so there is no IPv6 traffic to match.
//!
//! The table is rewritten whole, in one `nft` transaction, whenever this instance's networks
//! change (right after a network is created, before any of its containers starts; after one is
//! removed) and on every full pass (which also repairs a table deleted behind tenantd's back).
//! It is never removed: with tenantd stopped, tenants stay as protected as they were. Other
//! instances' tables, and every other table, are left alone.
//!
//! Why the `nft` command and not netlink from Rust: `nft -f` applies a whole table atomically
//! from the text syntax nftables documents and keeps stable across releases, and reports errors
//! in terms an operator can read and compare with `nft list table`. The Rust netlink crates for
//! nf_tables (rustables, or bindings to libnftnl) make every rule a sequence of low-level
//! expressions and are thinly kept; the `nftables` crate drives the same `nft` binary through
//! its JSON form, a typed layer this handful of fixed rules does not need. The cost is a
//! runtime dependency on the `nftables` package (declared by the .deb).

mod nft;
mod rules;
mod settings;

use std::collections::BTreeSet;

pub use rules::{table_name, Egress, GuardedNetwork, HostRules};
pub use settings::{FirewallMode, HostPort, NetworkSettings, Protocol, RawNetwork};

use crate::spec::TenantName;

/// Why the rules could not be put in place. Each says what to do about it, including the
/// way out for hosts whose own firewall does the job.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("cannot run `nft` to keep tenants off this host's services: {source}; install nftables, or set [network] host_firewall = \"external\" if this host's own firewall does it")]
    Spawn {
        #[source]
        source: std::io::Error,
    },
    #[error("nft refused the rules of table inet {table} (tenantd needs CAP_NET_ADMIN for them): {message}")]
    Refused { table: String, message: String },
    #[error("nft did not finish within {secs} s")]
    Timeout { secs: u64 },
    #[error("the engine at {endpoint} may be on another host, where this host's firewall does not reach; set [network] host_firewall = \"external\" and keep tenants off that host's services there")]
    NotLocal { endpoint: String },
    #[error("the engine at {endpoint} runs rootless: its networks live in a namespace of their own, out of the host firewall's reach; set [network] host_firewall = \"external\"")]
    Rootless { endpoint: String },
}

/// The host rules of one instance. Changes are serialised: each rewrite reflects the networks
/// listed after the one before it, so a slow rewrite never undoes a newer one.
#[derive(Debug)]
pub struct HostFirewall {
    table: String,
    host_allow: Vec<HostPort>,
    turn: tokio::sync::Mutex<()>,
}

impl HostFirewall {
    pub fn new(instance: &TenantName, host_allow: &[HostPort]) -> Self {
        Self { table: table_name(instance.as_str()), host_allow: host_allow.to_vec(), turn: Default::default() }
    }

    /// The nftables table this instance owns (family `inet`).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Waits for the previous rewrite to finish. Hold the guard from listing the networks until
    /// [`HostFirewall::replace`] has returned.
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Replaces the table with one for exactly `networks`.
    pub async fn replace(
        &self,
        networks: BTreeSet<GuardedNetwork>,
        engine_dns_on_gateway: bool,
    ) -> Result<(), FirewallError> {
        let rules = HostRules {
            table: self.table.clone(),
            networks,
            host_allow: self.host_allow.clone(),
            engine_dns_on_gateway,
        };
        nft::apply(&self.table, &rules.render()).await?;
        tracing::debug!(table = %self.table, networks = rules.networks.len(), "host rules in place");
        Ok(())
    }
}
