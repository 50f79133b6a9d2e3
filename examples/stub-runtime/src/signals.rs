//! SIGTERM and SIGINT with std only: a C handler sets a flag that the accept loop polls.

use std::io;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

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

extern "C" fn on_signal(_signum: c_int) {
    // Only an atomic store: anything else (allocation, locks, printing) is not async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Routes SIGTERM and SIGINT to [`STOP`] instead of the default of dying with a signal status.
pub fn install() -> io::Result<()> {
    for signum in [SIGINT, SIGTERM] {
        // SAFETY: `on_signal` only performs an atomic store, which is async-signal-safe.
        if unsafe { signal(signum, on_signal) } == SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
