//! Executing a plan through the runtime, per-tenant isolation, outcomes and status.

mod execute;
mod files;
pub mod ingress;
mod lock;
mod observe_after;
mod outcome;
pub mod owner;
mod pass;
mod prepare;
mod probe;
mod progress;
#[cfg(test)]
mod recovery_tests;
mod rollout;
mod secrets_check;
mod status;
mod wait;

use std::path::PathBuf;

pub use execute::{
    execute, execute_reporting, execute_tenant, execute_with, ExecContext, WaitPolicy, ASIDE_SUFFIX, STOP_TIMEOUT_SECS,
};
pub use files::{FileDelivery, FilesError};
pub use lock::{StateLock, LOCK_FILE};
pub use observe_after::observe_after;
pub use outcome::TenantOutcome;
pub use pass::{run_pass, PassMemory, PassMode, PassResult, PassScope, ProgressFor};
pub use prepare::{
    load_specs, observe_some, plan_scoped, rolled_back, rolled_back_of, Desired, KnownState, PassOptions,
};
pub use probe::probe_running;
pub use progress::{ExecEvent, ProgressSink};
pub use status::{write_statuses, PassFacts};
pub use wait::health_budget;

use crate::runtime::RuntimeError;
use crate::status::StatusError;

/// Why a whole pass could not run. Per-tenant failures are outcomes, not errors.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{message}; refusing to go on: a missing tenants directory is never taken to mean \"no tenants\" (pass --allow-empty to delete every tenant)")]
    TenantsDir { dir: PathBuf, message: String },
    #[error("{} holds no tenant specs but {running} tenant(s) exist on the runtime; refusing to delete them all (pass --allow-empty if that is what you want)", dir.display())]
    EmptyTenantsDir { dir: PathBuf, running: usize },
    #[error(transparent)]
    Runtime(RuntimeError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Owner(#[from] owner::OwnerError),
    #[error("{}: another tenantd (daemon or apply) holds the state directory lock; try again when it is done", path.display())]
    Locked { path: PathBuf },
    #[error("{}: cannot open the state directory lock: {source}", path.display())]
    LockIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
