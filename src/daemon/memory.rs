//! Keeping a long-running daemon's resident memory close to what it holds.
//!
//! glibc's malloc keeps freed memory resident. A full pass reads and renders every spec, which
//! leaves megabytes free after it; trimming then hands the free pages back (see BENCHMARKS.md).
//! Elsewhere this is a no-op.

/// Returns free heap pages to the system.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; it is safe to call at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn malloc_trim(pad: usize) -> i32;
}
