//! Host port allocation: deterministic per tenant within the configured range, stable across
//! restarts of tenantd and across other tenants coming and going.
//!
//! A tenant that already has a published port in range keeps it. A new tenant starts at a slot
//! derived from its name and probes upwards (wrapping) past ports held by other tenants and ports
//! the host reports busy. The host check is injected, so allocation is pure and testable.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use sha2::{Digest, Sha256};

use crate::spec::TenantName;

/// Why no port could be given to a tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("no free host port left in {lo}-{hi}: every port is held by another tenant or in use on the host")]
    Exhausted { lo: u16, hi: u16 },
}

/// The host port given to each tenant that publishes one, or why none could be.
pub type PortAssignments = BTreeMap<TenantName, Result<u16, PortError>>;

/// The first port a tenant tries: a stable function of its name.
pub fn preferred_port(tenant: &TenantName, range: &RangeInclusive<u16>) -> u16 {
    let size = u64::from(*range.end() - *range.start()) + 1;
    let digest = Sha256::digest(tenant.as_str().as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    *range.start() + (n % size) as u16
}

/// Assigns a host port to each tenant in `wanted`.
///
/// `existing` holds the ports tenants' containers publish now (all tenants of the instance,
/// including ones not in `wanted`, so their ports are never handed out). `host_free(port)` says
/// whether the host can bind the port; it is asked only for ports not already held.
pub fn allocate(
    wanted: &BTreeSet<TenantName>,
    existing: &BTreeMap<TenantName, u16>,
    range: &RangeInclusive<u16>,
    mut host_free: impl FnMut(u16) -> bool,
) -> PortAssignments {
    let mut held: BTreeSet<u16> = existing.values().copied().collect();
    let mut out = BTreeMap::new();
    // Tenants that keep their port first, so a newcomer can never take it.
    for t in wanted {
        if let Some(p) = existing.get(t).filter(|p| range.contains(p)) {
            out.insert(t.clone(), Ok(*p));
        }
    }
    let newcomers: Vec<&TenantName> = wanted.iter().filter(|t| !out.contains_key(*t)).collect();
    for t in newcomers {
        let start = preferred_port(t, range);
        let size = u32::from(*range.end() - *range.start()) + 1;
        let found = (0..size)
            .map(|i| {
                let off = (u32::from(start - *range.start()) + i) % size;
                *range.start() + off as u16
            })
            .find(|p| !held.contains(p) && host_free(*p));
        match found {
            Some(p) => {
                held.insert(p);
                out.insert(t.clone(), Ok(p));
            }
            None => {
                out.insert(t.clone(), Err(PortError::Exhausted { lo: *range.start(), hi: *range.end() }));
            }
        }
    }
    out
}

/// Whether 127.0.0.1:`port` can be bound right now (the host side of collision detection).
pub fn host_port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantName {
        s.parse().unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<TenantName> {
        names.iter().map(|n| t(n)).collect()
    }

    #[test]
    fn same_name_same_port_regardless_of_other_tenants() {
        let r = 19000..=19999;
        let alone = allocate(&set(&["acme"]), &BTreeMap::new(), &r, |_| true);
        let crowd = allocate(&set(&["acme", "beta", "gamma", "delta"]), &BTreeMap::new(), &r, |_| true);
        assert_eq!(alone[&t("acme")], crowd[&t("acme")]);
        assert_eq!(alone[&t("acme")], Ok(preferred_port(&t("acme"), &r)));
    }

    #[test]
    fn existing_ports_are_kept_and_never_handed_out() {
        let r = 19000..=19999;
        let acme_pref = preferred_port(&t("acme"), &r);
        // Another tenant already sits on acme's preferred port; acme must probe past it.
        let existing = BTreeMap::from([(t("other"), acme_pref), (t("beta"), 19001)]);
        let got = allocate(&set(&["acme", "beta"]), &existing, &r, |_| true);
        assert_eq!(got[&t("beta")], Ok(19001));
        let acme = got[&t("acme")].clone().unwrap();
        assert_ne!(acme, acme_pref);
        assert_ne!(acme, 19001);
    }

    #[test]
    fn busy_host_ports_are_skipped_with_wraparound() {
        let r = 19000..=19003;
        let pref = preferred_port(&t("acme"), &r);
        let got = allocate(&set(&["acme"]), &BTreeMap::new(), &r, |p| p != pref);
        let p = got[&t("acme")].clone().unwrap();
        assert!(r.contains(&p) && p != pref);
    }

    #[test]
    fn exhausted_range_is_a_per_tenant_error_and_keeps_existing() {
        let r = 19000..=19001;
        let existing = BTreeMap::from([(t("a"), 19000), (t("b"), 19001)]);
        let got = allocate(&set(&["a", "b", "c"]), &existing, &r, |_| true);
        assert_eq!(got[&t("a")], Ok(19000));
        assert_eq!(got[&t("b")], Ok(19001));
        assert_eq!(got[&t("c")], Err(PortError::Exhausted { lo: 19000, hi: 19001 }));
    }

    #[test]
    fn a_port_outside_a_shrunk_range_is_reallocated() {
        let r = 19000..=19010;
        let existing = BTreeMap::from([(t("a"), 25000)]);
        let got = allocate(&set(&["a"]), &existing, &r, |_| true);
        assert!(r.contains(&got[&t("a")].clone().unwrap()));
    }
}
