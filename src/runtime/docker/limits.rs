//! A container's [`Limits`] as the engine has them: the same fields set at create, changed in
//! place and read back on inspect. `0` (none) is left unset. Memory swap is set equal to memory:
//! no swap on top of the limit.

use bollard::models::{ContainerUpdateBody, HostConfig};

use crate::render::Limits;

/// Zero means "not set" to the engine; send nothing rather than a zero.
fn positive(v: i64) -> Option<i64> {
    (v > 0).then_some(v)
}

/// `host` with the limits set, for creating a container.
pub fn with_limits(host: HostConfig, l: &Limits) -> HostConfig {
    HostConfig {
        memory: positive(l.memory_bytes),
        memory_swap: positive(l.memory_bytes),
        nano_cpus: positive(l.nano_cpus),
        pids_limit: positive(l.pids),
        ..host
    }
}

/// The body that changes a running container's limits in place.
pub fn update_body(l: &Limits) -> ContainerUpdateBody {
    ContainerUpdateBody {
        memory: positive(l.memory_bytes),
        memory_swap: positive(l.memory_bytes),
        nano_cpus: positive(l.nano_cpus),
        pids_limit: positive(l.pids),
        ..Default::default()
    }
}

/// The limits an inspected container has.
pub fn observed(host: Option<&HostConfig>) -> Limits {
    Limits {
        memory_bytes: host.and_then(|h| h.memory).unwrap_or(0),
        nano_cpus: host.and_then(|h| h.nano_cpus).unwrap_or(0),
        pids: host.and_then(|h| h.pids_limit).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_set_reads_back_the_same_and_none_stays_unset() {
        let l = Limits { memory_bytes: 64 << 20, nano_cpus: 500_000_000, pids: 64 };
        let host = with_limits(HostConfig::default(), &l);
        assert_eq!(observed(Some(&host)), l);
        assert_eq!(host.memory_swap, Some(64 << 20));
        let update = update_body(&l);
        assert_eq!(
            (update.memory, update.nano_cpus, update.pids_limit),
            (host.memory, host.nano_cpus, host.pids_limit)
        );
        let none = with_limits(HostConfig::default(), &Limits::default());
        assert_eq!((none.memory, none.memory_swap, none.nano_cpus, none.pids_limit), (None, None, None, None));
    }
}
