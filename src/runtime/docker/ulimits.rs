//! The `nofile` and `nproc` limits every tenant container is created with, kept within the
//! host's hard limits.
//!
//! Podman, unlike Docker, does not pick these itself within what its own process may grant: a
//! container without explicit ulimits (or with ones above the engine's hard limits) fails to
//! start with "error setting rlimit … operation not permitted". Every tenant container therefore
//! gets explicit, modest limits on both engines.

use rustix::process::{getrlimit, Resource};

/// Open files per process: plenty for a gateway, far below the usual hard limits.
pub const DEFAULT_NOFILE: i64 = 4096;
/// Processes per uid, counted across the host (there is no user namespace): a backstop only,
/// `pids_limit` is the per-container cap. Podman's service lowers its own hard `nproc` to
/// 32768, which no container may exceed.
pub const DEFAULT_NPROC: i64 = 16384;

/// Soft and hard limits both (a container gains nothing from raising a soft limit it owns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerUlimits {
    pub nofile: i64,
    pub nproc: i64,
}

impl Default for ContainerUlimits {
    fn default() -> Self {
        Self { nofile: DEFAULT_NOFILE, nproc: DEFAULT_NPROC }
    }
}

impl ContainerUlimits {
    /// The defaults, each lowered to this process's hard limit when that is lower: a local
    /// engine runs on the same host, and a host whose limits are that low cannot grant more.
    pub fn within_own_hard_limits() -> Self {
        Self::within(getrlimit(Resource::Nofile).maximum, getrlimit(Resource::Nproc).maximum)
    }

    /// The defaults clamped to the hard limits given (`None` means unlimited).
    pub fn within(hard_nofile: Option<u64>, hard_nproc: Option<u64>) -> Self {
        let clamp = |default: i64, hard: Option<u64>| match hard {
            // A hard limit of 0 would make the container unusable; keep the default and let the
            // engine say what it cannot grant.
            Some(hard) if hard > 0 => default.min(i64::try_from(hard).unwrap_or(i64::MAX)),
            _ => default,
        };
        Self { nofile: clamp(DEFAULT_NOFILE, hard_nofile), nproc: clamp(DEFAULT_NPROC, hard_nproc) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_lowered_to_the_hard_limits_never_raised() {
        assert_eq!(ContainerUlimits::within(None, None), ContainerUlimits::default());
        assert_eq!(ContainerUlimits::within(Some(20000), Some(96363)), ContainerUlimits::default());
        assert_eq!(ContainerUlimits::within(Some(1024), Some(512)), ContainerUlimits { nofile: 1024, nproc: 512 });
        assert_eq!(ContainerUlimits::within(Some(0), Some(u64::MAX)), ContainerUlimits::default());
    }

    #[test]
    fn this_host_can_grant_what_is_asked() {
        let own = ContainerUlimits::within_own_hard_limits();
        for (asked, resource) in [(own.nofile, Resource::Nofile), (own.nproc, Resource::Nproc)] {
            let hard = getrlimit(resource).maximum.map_or(i64::MAX, |h| i64::try_from(h).unwrap_or(i64::MAX));
            assert!(asked > 0 && asked <= hard, "{asked} within {hard}");
        }
    }
}
