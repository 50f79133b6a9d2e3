//! A side of the comparison (tenantd, docker-compose, the floor) and how one phase of it is
//! measured: the wall time until its command returns, and until the phase's effect is visible
//! on the engine and on the published ports.

use std::time::{Duration, Instant};

use crate::engine;
use crate::scenario::{self, Scenario};
use crate::wait::{self, Expect};

/// What the phases change in the desired state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Phase {
    /// N tenants from nothing.
    Cold,
    /// The same desired state again.
    NoOp,
    /// One tenant's env value edited: its container is replaced on every side.
    Change,
    /// One tenant's memory limit edited: tenantd and the floor update the container in place.
    InPlace,
    /// Every tenant removed.
    Teardown,
}

pub const PHASES: [Phase; 5] = [Phase::Cold, Phase::NoOp, Phase::Change, Phase::InPlace, Phase::Teardown];

/// Which setting of one tenant an edit changed.
#[derive(Clone, Copy)]
pub enum Edit {
    Env,
    Memory,
}

/// What a side is asked to do.
#[derive(Clone, Copy)]
pub enum Step {
    /// Create and start every tenant, on an engine with none of this side's objects.
    Cold,
    /// Converge again onto the state it already runs.
    NoOp,
    /// Converge after tenant `.0` was edited as `.1` says.
    Edit(usize, Edit),
    /// Remove every tenant, container and network.
    Teardown,
}

/// A way to converge the engine onto a [`Scenario`].
pub trait Side {
    /// The side's name in progress lines and the report.
    fn label(&self) -> &'static str;
    /// What the side runs for `phase`, as a row label of the report.
    fn command(&self, phase: Phase) -> String;
    /// The container name of tenant `tenant`.
    fn container_name(&self, tenant: &str) -> String;
    /// Labels (`key=value`) that every container and network of this side carries, and nothing
    /// else on the engine does.
    fn labels(&self) -> Vec<String>;
    /// Writes down `s` as this side's desired state for `step` (spec files, the compose file,
    /// the floor's list of calls). Not timed: this is the user's edit, not the tool's work.
    fn prepare(&mut self, s: &Scenario, step: Step);
    /// Runs the side's command or API calls for `step` and returns when they return; false when
    /// the side has no such step.
    fn run(&mut self, step: Step) -> bool;
}

/// One phase of one side in one round, in seconds from the start of its command.
#[derive(Clone, Copy)]
pub struct Sample {
    pub command_s: f64,
    /// Until every affected container answers GET /health 200 on its published port (with the
    /// edit visible on the engine), or for the teardown, until none of the side's objects is left.
    pub ready_s: f64,
    /// For edits: whether the edited tenant's container kept its id.
    pub same_id: Option<bool>,
}

/// Runs `phase` of `side` on `s` (editing `s` first for the edit phases) and measures it. None
/// when the side has no such step.
pub fn measure(side: &mut dyn Side, s: &mut Scenario, phase: Phase, deadline: Duration) -> Option<Sample> {
    let labels = side.labels();
    let all: Vec<Expect> = s.tenants.iter().map(|t| Expect::serving(side.container_name(&t.name))).collect();
    let n = s.tenants.len();
    match phase {
        Phase::Cold => {
            side.prepare(s, Step::Cold);
            let t0 = Instant::now();
            side.run(Step::Cold);
            let command_s = t0.elapsed().as_secs_f64();
            wait::serving(&labels, &all, n, t0, deadline);
            Some(Sample { command_s, ready_s: t0.elapsed().as_secs_f64(), same_id: None })
        }
        Phase::NoOp => {
            let before = ids(side, s);
            side.prepare(s, Step::NoOp);
            let t0 = Instant::now();
            if !side.run(Step::NoOp) {
                return None;
            }
            let command_s = t0.elapsed().as_secs_f64();
            wait::serving(&labels, &all, n, t0, deadline);
            let ready_s = t0.elapsed().as_secs_f64();
            assert!(ids(side, s) == before, "{}: a no-op replaced containers", side.label());
            Some(Sample { command_s, ready_s, same_id: None })
        }
        Phase::Change => {
            let i = scenario::ENV_EDITED;
            s.tenants[i].greeting = format!("{}-edited", s.tenants[i].greeting);
            let name = side.container_name(&s.tenants[i].name);
            let old = engine::inspect(&name).expect("the tenant's container").id;
            side.prepare(s, Step::Edit(i, Edit::Env));
            let t0 = Instant::now();
            side.run(Step::Edit(i, Edit::Env));
            let command_s = t0.elapsed().as_secs_f64();
            let expect = Expect { not_id: Some(old.clone()), ..Expect::serving(name.clone()) };
            let id = wait::serving(&labels, &[expect], n, t0, deadline).remove(&name).expect("served");
            let ready_s = t0.elapsed().as_secs_f64();
            let env = wait::env_of(&id);
            assert!(env.contains(&s.tenants[i].env()[0]), "{}: {name} runs with {env:?}", side.label());
            Some(Sample { command_s, ready_s, same_id: Some(id == old) })
        }
        Phase::InPlace => {
            let i = scenario::MEMORY_EDITED;
            s.tenants[i].memory_mib = scenario::EDITED_MEMORY_MIB;
            let name = side.container_name(&s.tenants[i].name);
            let old = engine::inspect(&name).expect("the tenant's container").id;
            side.prepare(s, Step::Edit(i, Edit::Memory));
            let t0 = Instant::now();
            side.run(Step::Edit(i, Edit::Memory));
            let command_s = t0.elapsed().as_secs_f64();
            let expect = Expect { memory: Some(s.tenants[i].memory_bytes()), ..Expect::serving(name.clone()) };
            let id = wait::serving(&labels, &[expect], n, t0, deadline).remove(&name).expect("served");
            Some(Sample { command_s, ready_s: t0.elapsed().as_secs_f64(), same_id: Some(id == old) })
        }
        Phase::Teardown => {
            side.prepare(s, Step::Teardown);
            let t0 = Instant::now();
            side.run(Step::Teardown);
            let command_s = t0.elapsed().as_secs_f64();
            wait::gone(&labels, t0, deadline);
            Some(Sample { command_s, ready_s: t0.elapsed().as_secs_f64(), same_id: None })
        }
    }
}

/// The container id of every tenant, in tenant order.
fn ids(side: &dyn Side, s: &Scenario) -> Vec<Option<String>> {
    s.tenants.iter().map(|t| engine::inspect(&side.container_name(&t.name)).map(|c| c.id)).collect()
}
