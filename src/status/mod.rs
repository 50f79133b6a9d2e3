//! Typed tenant status, derived from facts and written atomically to one file per tenant.

mod derive;
mod model;
mod store;

pub use derive::{derive, ApplyFact, BackoffFact, DaemonFacts, Facts, ProbeFact, SpecFact};
pub use model::*;
pub use store::{StatusError, StatusListing, StatusStore};

#[cfg(test)]
mod tests;
