//! A container's limits: what a spec's `resources` render to, how two sets differ in words and
//! how a plan shows them. Every limit here changes on a running container without a restart.
//!
//! A new limit of that kind goes in four places: the field of `spec::Resources`, the field here
//! (with its rendering, wording and JSON), its mapping to each engine in
//! `runtime/docker/limits.rs`, and the schema regenerated from the spec types. Plan, execute,
//! the fake runtime and status compare and carry `Limits` whole.

use serde::Serialize;
use serde_json::{json, Value};

use crate::spec::{ByteSize, Resources};

/// Limits that can change on a running container without a restart. `0` is "none".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub pids: i64,
}

impl From<&Resources> for Limits {
    fn from(r: &Resources) -> Self {
        Self {
            memory_bytes: r.memory.bytes() as i64,
            nano_cpus: (r.cpus * 1e9).round() as i64,
            pids: i64::from(r.pids),
        }
    }
}

impl Limits {
    /// What differs from `self` to `to` (`memory 512Mi → 1Gi, cpus 0.5 → 1`), or `None` when
    /// they are equal.
    pub fn change_to(&self, to: &Limits) -> Option<String> {
        let mut parts = Vec::new();
        if self.memory_bytes != to.memory_bytes {
            parts.push(format!("memory {} → {}", mem(self.memory_bytes), mem(to.memory_bytes)));
        }
        if self.nano_cpus != to.nano_cpus {
            parts.push(format!("cpus {} → {}", cpus(self.nano_cpus), cpus(to.nano_cpus)));
        }
        if self.pids != to.pids {
            parts.push(format!("pids {} → {}", self.pids, to.pids));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// As a plan's settings show them.
    pub fn to_json(&self) -> Value {
        json!({ "memory": mem(self.memory_bytes), "cpus": self.nano_cpus as f64 / 1e9, "pids": self.pids })
    }
}

fn mem(bytes: i64) -> String {
    if bytes <= 0 {
        "unlimited".into()
    } else {
        ByteSize::from_bytes(bytes as u64).to_string()
    }
}

fn cpus(nano: i64) -> String {
    if nano <= 0 {
        "unlimited".into()
    } else {
        format!("{}", nano as f64 / 1e9)
    }
}
