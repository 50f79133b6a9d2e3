//! The address pool tenant networks take their subnets from.
//!
//! The engine's own default pools hold about 30 bridge networks (172.17–31.0.0/16 and
//! 192.168.0.0/16 in /20s), so a private network per tenant would run out there at the 31st
//! tenant and starve every other project on the host. tenantd therefore gives each tenant
//! network a small subnet of its own pool, skipping any subnet that overlaps a network the
//! engine already has.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;

/// Default pool: 4,096 subnets of /28 (13 addresses for containers each).
pub const DEFAULT_NETWORK_POOL: &str = "10.213.0.0/16";
pub const DEFAULT_NETWORK_PREFIX: u8 = 28;

/// A pool of IPv4 subnets of one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetPool {
    pool: Ipv4Net,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetPoolError {
    #[error("{0:?} is not an IPv4 network in CIDR notation (e.g. \"10.213.0.0/16\")")]
    NotCidr(String),
    #[error("{pool} has host bits set; did you mean {}?", pool.trunc())]
    HostBits { pool: Ipv4Net },
    #[error("subnets of /{prefix} do not fit in {pool}: expected a prefix from /{} to /29", pool.prefix_len())]
    Prefix { pool: Ipv4Net, prefix: u8 },
}

impl SubnetPool {
    pub fn new(pool: &str, prefix: u8) -> Result<Self, SubnetPoolError> {
        let net: Ipv4Net = pool.trim().parse().map_err(|_| SubnetPoolError::NotCidr(pool.to_string()))?;
        if net.trunc() != net {
            return Err(SubnetPoolError::HostBits { pool: net });
        }
        // /29 leaves 5 addresses besides network, broadcast and gateway; smaller is no use.
        if prefix < net.prefix_len() || prefix > 29 {
            return Err(SubnetPoolError::Prefix { pool: net, prefix });
        }
        Ok(Self { pool: net, prefix })
    }

    /// The first subnet of the pool that overlaps none of `taken`.
    pub fn first_free(&self, taken: &BTreeSet<Ipv4Net>) -> Option<Ipv4Net> {
        let subnets = self.pool.subnets(self.prefix).ok()?;
        subnets.into_iter().find(|s| !taken.iter().any(|t| overlaps(s, t)))
    }
}

impl Default for SubnetPool {
    fn default() -> Self {
        Self::new(DEFAULT_NETWORK_POOL, DEFAULT_NETWORK_PREFIX).expect("the default pool is valid")
    }
}

impl std::fmt::Display for SubnetPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{} subnets of {}", self.prefix, self.pool)
    }
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> BTreeSet<Ipv4Net> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_first_subnet_that_overlaps_nothing_is_picked() {
        let pool = SubnetPool::new("10.213.0.0/16", 28).unwrap();
        assert_eq!(pool.first_free(&nets(&[])), Some("10.213.0.0/28".parse().unwrap()));
        assert_eq!(pool.first_free(&nets(&["10.213.0.0/28"])), Some("10.213.0.16/28".parse().unwrap()));
        // A larger network covering the start of the pool, and one inside a candidate.
        assert_eq!(
            pool.first_free(&nets(&["10.213.0.0/24", "10.213.1.4/30", "172.17.0.0/16"])),
            Some("10.213.1.16/28".parse().unwrap())
        );
        // A network covering the whole pool leaves nothing.
        assert_eq!(pool.first_free(&nets(&["10.0.0.0/8"])), None);
    }

    #[test]
    fn a_full_pool_has_no_free_subnet() {
        let pool = SubnetPool::new("10.9.0.0/27", 28).unwrap();
        assert_eq!(pool.first_free(&nets(&["10.9.0.0/28", "10.9.0.16/28"])), None);
    }

    #[test]
    fn bad_pools_are_refused_with_the_reason() {
        assert_eq!(SubnetPool::new("10.213.0.0", 28), Err(SubnetPoolError::NotCidr("10.213.0.0".into())));
        assert!(SubnetPool::new("10.213.0.1/16", 28).unwrap_err().to_string().contains("did you mean 10.213.0.0/16"));
        assert!(matches!(SubnetPool::new("10.213.0.0/16", 30), Err(SubnetPoolError::Prefix { .. })));
        assert!(matches!(SubnetPool::new("10.213.0.0/16", 12), Err(SubnetPoolError::Prefix { .. })));
        assert!(SubnetPool::new("fd00::/64", 28).is_err());
    }
}
