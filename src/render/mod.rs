//! Spec → the desired objects for a runtime, and the desired-state hashes. Pure: no I/O.

mod files;
mod hash;
mod model;
pub mod openclaw;
mod tenant;

pub use files::{
    numeric_owner, secret_key, BindPlan, FileHashes, FileRoots, RuntimeFiles, CONFIG_FILE, CONFIG_PATH_ENV,
    RUNTIME_CONFIG_DIR,
};
pub use hash::{versioned_hash, HASH_VERSION};
pub use model::*;
pub use tenant::{object_name, render, ContainerView, DEFAULT_USER, MAIN_ALIAS};
