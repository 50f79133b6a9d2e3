//! Writes the status file of every tenant a pass knows about.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::outcome::TenantOutcome;
use super::prepare::Desired;
use crate::runtime::{EngineInfo, ObservedWorld};
use crate::spec::TenantName;
use crate::status::{derive, ApplyFact, DaemonFacts, Facts, ProbeFact, StatusError, StatusStore};

/// What a converging pass knows of every tenant once it has run.
pub struct PassFacts<'a> {
    pub desired: &'a Desired,
    pub before: &'a ObservedWorld,
    pub outcomes: &'a BTreeMap<TenantName, TenantOutcome>,
    pub after: &'a ObservedWorld,
    pub probes: &'a BTreeMap<TenantName, ProbeFact>,
}

/// Derives and writes statuses from the pass (the specs, the world observed `before` it, the
/// outcomes) and a fresh observation `after`, recording `engine` (the
/// engine the pass ran on, when known). Returns how many files were (re)written. Every tenant is
/// attempted even when one write fails; the first error is returned. A status file that holds
/// no status (corrupt) is written anew, whether or not the pass knows its tenant otherwise.
pub fn write_statuses(
    store: &StatusStore,
    pass: PassFacts<'_>,
    engine: Option<&EngineInfo>,
    now: OffsetDateTime,
) -> Result<usize, StatusError> {
    let PassFacts { desired, before, outcomes, after, probes } = pass;
    store.prepare()?;
    let listing = store.list()?;
    let previous = listing.statuses;
    let names: BTreeSet<&TenantName> = desired
        .tenants
        .keys()
        .chain(desired.invalid.keys())
        .chain(before.tenants.keys())
        .chain(after.tenants.keys())
        .chain(previous.keys())
        .chain(listing.unreadable.keys())
        .collect();
    let mut written = 0;
    let mut first_err = None;
    for name in names {
        let spec = desired.spec_fact(name);
        let outcome = outcomes.get(name);
        let facts = Facts {
            tenant: name.as_str(),
            spec,
            observed: after.tenants.get(name),
            apply: outcome.map(|o| o.fact.clone()).unwrap_or(ApplyFact::NothingToDo),
            probe: probes.get(name).copied().or_else(|| outcome.and_then(|o| o.probe)),
            daemon: DaemonFacts { engine: engine.cloned(), ..Default::default() },
        };
        let status = derive(previous.get(name), facts, now);
        match store.write(&status) {
            Ok(true) => written += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(tenant = %name, error = %e, "cannot write status file");
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(written),
    }
}
