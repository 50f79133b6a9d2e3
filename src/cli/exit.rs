//! tenantd's exit codes, in one place. A script reads them as:
//! - [`SUCCESS`] (0): the command did what it was asked; for `plan --detailed-exitcode`, nothing
//!   would change.
//! - [`FAILURE`] (1): an error (a config that cannot be read, an engine that does not answer),
//!   or a result that is not what was asked for: a spec that is not valid, a tenant that did not
//!   converge, a status file that holds no status, a `wait` that timed out.
//! - [`CHANGES_PENDING`] (2): only from `plan --detailed-exitcode`: something would change.
//! - [`USAGE_ERROR`] (64, sysexits' EX_USAGE): a command line tenantd cannot parse.
//!
//! `exec` is the exception: it exits with the command's own exit code, as `docker exec` does.

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const CHANGES_PENDING: u8 = 2;
pub const USAGE_ERROR: u8 = 64;

/// [`FAILURE`] when `failed`, else [`SUCCESS`].
pub fn failure_if(failed: bool) -> u8 {
    if failed {
        FAILURE
    } else {
        SUCCESS
    }
}
