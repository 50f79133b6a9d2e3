//! Typed tenant status, derived from facts by one policy, written atomically to one file per
//! tenant, each change of phase logged once.

mod derive;
mod facts;
mod model;
mod policy;
mod store;
mod transition;

pub use derive::derive;
pub use facts::{ApplyFact, BackoffFact, DaemonFacts, Facts, ProbeFact, SpecFact};
pub use model::*;
pub use policy::settle;
pub use store::{StatusError, StatusListing, StatusStore};
pub use transition::{transition, Severity, Transition, TRANSITION_TARGET};

#[cfg(test)]
mod kstatus_tests;
#[cfg(test)]
mod tests;
