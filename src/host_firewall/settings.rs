//! `[network]` of the daemon config: who keeps tenants off the host's own services, and which
//! host ports tenants with egress allowed may still reach.

use serde::Deserialize;

/// Who keeps tenant networks off the host (`[network] host_firewall`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirewallMode {
    /// tenantd installs and keeps an nftables table of its own (the default). When it cannot,
    /// every pass that would change something fails with the reason.
    #[default]
    Tenantd,
    /// The operator's own firewall does it; tenantd installs nothing.
    External,
}

/// The transport of an allowed host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// One port of the host that tenants with egress allowed may reach: `tcp/8080`, `udp/53`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub protocol: Protocol,
    pub port: u16,
}

impl std::str::FromStr for HostPort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a host port: expected \"tcp/PORT\" or \"udp/PORT\" (e.g. \"tcp/8080\")");
        let (protocol, port) = s.split_once('/').ok_or_else(bad)?;
        let protocol = match protocol {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => return Err(bad()),
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        if port == 0 {
            return Err(bad());
        }
        Ok(Self { protocol, port })
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{protocol}/{}", self.port)
    }
}

/// `[network]` as written in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    #[serde(default)]
    host_firewall: FirewallMode,
    #[serde(default)]
    host_allow: Vec<String>,
}

/// How tenant networks are kept off the host (`[network]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    pub host_firewall: FirewallMode,
    /// Host ports tenants with `egress: allow` may reach; tenants with `egress: deny` reach none.
    /// Sorted, without duplicates.
    pub host_allow: Vec<HostPort>,
}

impl RawNetwork {
    /// The settings, or the first entry of `host_allow` that is not a host port.
    pub fn settings(self) -> Result<NetworkSettings, String> {
        let mut host_allow = self.host_allow.iter().map(|s| s.parse()).collect::<Result<Vec<HostPort>, _>>()?;
        host_allow.sort();
        host_allow.dedup();
        Ok(NetworkSettings { host_firewall: self.host_firewall, host_allow })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_parse_and_print_as_written() {
        let p: HostPort = "tcp/8080".parse().unwrap();
        assert_eq!(p, HostPort { protocol: Protocol::Tcp, port: 8080 });
        assert_eq!(p.to_string(), "tcp/8080");
        assert_eq!("udp/53".parse::<HostPort>().unwrap().to_string(), "udp/53");
        for bad in ["8080", "tcp/", "tcp/0", "tcp/65536", "sctp/9", "TCP/80", "tcp/80-90", "tcp:80"] {
            let e = bad.parse::<HostPort>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")) && e.contains("tcp/PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_allowlist_is_sorted_and_deduplicated_and_the_mode_defaults_to_tenantd() {
        let raw: RawNetwork = toml::from_str("host_allow = [\"udp/53\", \"tcp/8080\", \"tcp/8080\"]").unwrap();
        let s = raw.settings().unwrap();
        assert_eq!(s.host_firewall, FirewallMode::Tenantd);
        assert_eq!(s.host_allow.iter().map(ToString::to_string).collect::<Vec<_>>(), ["tcp/8080", "udp/53"]);
        let raw: RawNetwork = toml::from_str("host_firewall = \"external\"").unwrap();
        assert_eq!(raw.settings().unwrap().host_firewall, FirewallMode::External);
        assert!(toml::from_str::<RawNetwork>("host_firewall = \"off\"").is_err());
        assert!(toml::from_str::<RawNetwork>("bogus = 1").is_err());
    }
}
