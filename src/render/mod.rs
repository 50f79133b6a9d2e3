//! Spec → the desired objects for a runtime, and the desired-state hashes. Pure: no I/O.

mod hash;
mod model;
pub mod openclaw;
mod tenant;

pub use hash::{versioned_hash, HASH_VERSION};
pub use model::*;
pub use tenant::{object_name, render, ContainerView, DEFAULT_USER, MAIN_ALIAS};
