//! SIGTERM, SIGINT and SIGHUP with std only: C handlers set a flag that the accept loop polls,
//! or count reload requests for the config reader.

use std::io;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const SIGHUP: c_int = 1;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
/// `SIG_ERR` is `(sighandler_t) -1`.
const SIG_ERR: usize = usize::MAX;

// libc is linked anyway; declaring the one function needed keeps the crate free of dependencies.
unsafe extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
}

/// Set once SIGTERM or SIGINT arrived; never cleared.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// How many SIGHUPs arrived: each asks for the config and secrets to be read again.
pub static RELOADS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_hangup(_signum: c_int) {
    // Only an atomic add, which is async-signal-safe.
    RELOADS.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn on_signal(_signum: c_int) {
    // Only an atomic store: anything else (allocation, locks, printing) is not async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Routes SIGTERM and SIGINT to [`STOP`] instead of the default of dying with a signal status,
/// and SIGHUP to [`RELOADS`].
pub fn install() -> io::Result<()> {
    for signum in [SIGINT, SIGTERM] {
        // SAFETY: `on_signal` only performs an atomic store, which is async-signal-safe.
        if unsafe { signal(signum, on_signal) } == SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: `on_hangup` only performs an atomic add, which is async-signal-safe.
    if unsafe { signal(SIGHUP, on_hangup) } == SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
