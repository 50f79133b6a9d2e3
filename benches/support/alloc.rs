//! A counting global allocator: live and peak heap bytes of the bench process. Including this
//! module installs it.

// Each bench includes this module and uses part of it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Live heap bytes, counted by the global allocator of this binary.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Cleared for good by [`stop_counting`].
static COUNTING: AtomicBool = AtomicBool::new(true);

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(n: usize) {
    if !COUNTING.load(Ordering::Relaxed) {
        return;
    }
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes live now.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The most heap bytes live at once since the start or the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak from what is live now; returns that.
pub fn reset_peak() -> usize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// Stops counting for the rest of the process, so that timings after it carry no counter
/// updates (two atomic operations per allocation). [`live`] and [`peak`] mean nothing after it.
pub fn stop_counting() {
    COUNTING.store(false, Ordering::Relaxed);
}

/// Heap bytes that `make` allocates and keeps in what it returns (the value is dropped).
pub fn heap_of<T>(make: impl FnOnce() -> T) -> usize {
    let before = live();
    let value = make();
    let size = live().saturating_sub(before);
    drop(value);
    size
}

#[cfg(target_env = "gnu")]
extern "C" {
    /// glibc: returns free memory at the top of the heap and in every arena to the kernel.
    fn malloc_trim(pad: usize) -> i32;
}

/// Gives memory malloc holds but nothing uses back to the kernel (glibc only; elsewhere a no-op).
pub fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        malloc_trim(0);
    }
}
