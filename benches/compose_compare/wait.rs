//! Polling with a deadline until a phase's effect is visible: containers answering on their
//! published ports, or a side's objects gone. One container list per pass, then one GET
//! /health per container still awaited, all at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{self, STUB_PORT};

/// Pause between two passes.
const POLL: Duration = Duration::from_millis(20);

/// A container awaited by name.
#[derive(Clone)]
pub struct Expect {
    pub name: String,
    /// The id it must no longer have (it is to be replaced).
    pub not_id: Option<String>,
    /// The memory limit, in bytes, it must have.
    pub memory: Option<u64>,
}

impl Expect {
    pub fn serving(name: String) -> Expect {
        Expect { name, not_id: None, memory: None }
    }
}

/// Polls until every one of `expects` runs, answers GET /health with 200 on its port published
/// on 127.0.0.1, and meets its conditions, and the side (its containers carry `labels`) has
/// exactly `total` containers. The ids that answered, by name. Panics after `deadline` from `t0`.
pub fn serving(
    labels: &[String],
    expects: &[Expect],
    total: usize,
    t0: Instant,
    deadline: Duration,
) -> HashMap<String, String> {
    let mut served: HashMap<String, String> = HashMap::new();
    loop {
        let list = engine::containers_labelled(labels);
        let candidates: Vec<(&Expect, &str, u16)> = expects
            .iter()
            .filter(|e| !served.contains_key(&e.name))
            .filter_map(|e| {
                let c = list.iter().find(|c| named(c, &e.name))?;
                let (id, port) = candidate(c, e)?;
                Some((e, id, port))
            })
            .collect();
        // All at once: a slow answer of one runtime must not delay noticing the others.
        let answered: Vec<bool> = std::thread::scope(|scope| {
            let probes: Vec<_> = candidates
                .iter()
                .map(|&(_, _, port)| scope.spawn(move || engine::http_get(port, "/health") == Some(200)))
                .collect();
            probes.into_iter().map(|p| p.join().unwrap_or(false)).collect()
        });
        for ((e, id, _), ok) in candidates.iter().zip(answered) {
            if ok {
                served.insert(e.name.clone(), id.to_string());
            }
        }
        if served.len() == expects.len() && list.len() == total {
            return served;
        }
        if t0.elapsed() > deadline {
            let missing: Vec<&str> =
                expects.iter().filter(|e| !served.contains_key(&e.name)).map(|e| e.name.as_str()).collect();
            panic!(
                "not converged within {deadline:?}: {} containers of {labels:?} (want {total}), not answering: {missing:?}",
                list.len()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Polls until no container and no network carries `labels`.
pub fn gone(labels: &[String], t0: Instant, deadline: Duration) {
    loop {
        let containers = engine::containers_labelled(labels).len();
        let networks = engine::networks_labelled(labels).len();
        if containers == 0 && networks == 0 {
            return;
        }
        assert!(
            t0.elapsed() <= deadline,
            "{containers} containers and {networks} networks of {labels:?} still there after {deadline:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// The environment a container runs with.
pub fn env_of(id: &str) -> Vec<String> {
    let (_, v) = engine::engine("GET", &format!("/containers/{id}/json"), None);
    v["Config"]["Env"].as_array().into_iter().flatten().filter_map(|e| e.as_str().map(str::to_string)).collect()
}

fn named(c: &Value, name: &str) -> bool {
    let slashed = format!("/{name}");
    c["Names"].as_array().into_iter().flatten().any(|n| n.as_str() == Some(slashed.as_str()))
}

/// The id and published port of the listed container `c` when it runs and meets `e`'s
/// conditions.
fn candidate<'a>(c: &'a Value, e: &Expect) -> Option<(&'a str, u16)> {
    let id = c["Id"].as_str()?;
    if c["State"].as_str() != Some("running") || e.not_id.as_deref() == Some(id) {
        return None;
    }
    if let Some(memory) = e.memory {
        let (_, v) = engine::engine("GET", &format!("/containers/{id}/json"), None);
        if v["HostConfig"]["Memory"].as_u64() != Some(memory) {
            return None;
        }
    }
    let port = c["Ports"].as_array()?.iter().find_map(|p| {
        let ours = p["PrivatePort"].as_u64() == Some(u64::from(STUB_PORT)) && p["IP"].as_str() == Some("127.0.0.1");
        ours.then(|| p["PublicPort"].as_u64()).flatten()
    })?;
    Some((id, u16::try_from(port).ok()?))
}
