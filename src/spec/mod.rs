//! Reading `tenants.d/`: which files count, YAML parsing, JSON Schema validation, and typed
//! `TenantFile`s. Touches files only.

mod context;
mod context_files;
mod context_legacy;
pub mod diagnostic;
mod dockerignore;
mod document;
mod error;
pub mod explain;
mod load;
pub mod names;
pub mod openclaw_config;
mod position;
mod rollout;
mod rules;
pub mod schema;
mod schema_portable;
mod stamp;
mod structure;
mod types;
mod validate;

pub use context_files::{
    context_digest, ContextEntry, ContextError, ContextFiles, ContextSink, Discard, EntryKind, ENTRY_BYTES,
    MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH,
};
pub use context_legacy::earlier_context_digest;
pub use error::{SpecError, MAX_ERRORS_PER_FILE};
pub use load::{
    declared_tenants, error_at, load_dir, load_dir_reusing, load_file, load_file_as, parse_str, read_source,
    BuildContext, InvalidSpec, InvalidText, Known, LoadedSpec, SkipReason, SpecSet, MAX_SPEC_BYTES,
};
pub use names::{ByteSize, SidecarName, SpecDuration, TenantName, VolumeName};
pub use openclaw_config::*;
pub use rollout::{Rollout, RolloutStrategy};
pub use stamp::FileStamp;
pub use structure::{MAX_ALIASED_BYTES, MAX_ALIASED_NODES, MAX_NESTING_DEPTH};
pub use types::*;
