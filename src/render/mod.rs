//! Spec → the desired objects for a runtime, and the desired-state hashes. Pure: no I/O.

mod model;

pub use model::*;
