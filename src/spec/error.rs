//! Errors about spec files, each naming the file and, where there is one, the line, column and
//! JSON pointer, so a human can act on it.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The tenants directory does not exist or cannot be listed.
    #[error("{}: cannot read the tenants directory: {message}", dir.display())]
    Dir { dir: PathBuf, message: String },
    /// The file cannot be read.
    #[error("{}: cannot read: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// The file is larger than the limit.
    #[error("{}: {size} bytes is over the limit of {limit} bytes", path.display())]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    /// A symlink that points outside the tenants directory (or loops).
    #[error("{}: symlink is refused: {message}", path.display())]
    Symlink { path: PathBuf, message: String },
    /// Not well-formed YAML.
    #[error("{}:{line}:{column}: YAML syntax error: {message}", path.display())]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    /// Well-formed but against the schema (or a rule the schema cannot say).
    #[error("{}:{line}:{column}: {pointer}: {message}", path.display(), pointer = if pointer.is_empty() { "(document)" } else { pointer.as_str() })]
    Invalid { path: PathBuf, line: usize, column: usize, pointer: String, message: String },
    /// The file has more problems than are reported for one file; the first ones are.
    #[error("{}: {count} more problem(s) in this file not shown (at most {shown} are reported per file)", path.display())]
    More { path: PathBuf, count: usize, shown: usize },
    /// Two files name the same tenant: both are rejected.
    #[error("{}: tenant {name:?} is also defined in {}; both files are rejected", path.display(), other.display())]
    DuplicateName { path: PathBuf, name: String, other: PathBuf },
}

impl SpecError {
    /// The file the error concerns.
    pub fn path(&self) -> &std::path::Path {
        match self {
            SpecError::Dir { dir, .. } => dir,
            SpecError::Read { path, .. }
            | SpecError::TooLarge { path, .. }
            | SpecError::Symlink { path, .. }
            | SpecError::Syntax { path, .. }
            | SpecError::Invalid { path, .. }
            | SpecError::More { path, .. }
            | SpecError::DuplicateName { path, .. } => path,
        }
    }
}

/// At most this many errors are reported for one file (then one that counts the rest): a file of
/// a megabyte can hold a hundred thousand mistakes, and nobody reads past the first few.
pub const MAX_ERRORS_PER_FILE: usize = 50;

/// The first [`MAX_ERRORS_PER_FILE`] of `errors`, then one counting the rest (and `more` not
/// listed at all).
pub(super) fn capped(mut errors: Vec<SpecError>, more: usize, path: &Path) -> Vec<SpecError> {
    let over = errors.len().saturating_sub(MAX_ERRORS_PER_FILE) + more;
    if over > 0 {
        errors.truncate(MAX_ERRORS_PER_FILE);
        errors.push(SpecError::More { path: path.to_path_buf(), count: over, shown: MAX_ERRORS_PER_FILE });
    }
    errors
}
