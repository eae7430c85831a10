//! The wasm heap: a bump allocator that returns to empty when nothing is live.
//!
//! Why not a general allocator: a parse is one short burst (input buffer, tables, output
//! buffer) after which the host frees everything, so a bump pointer plus a live-block count
//! gives exact reuse with a few dozen instructions and no third-party crate. Growing the
//! most recent block (the output buffer, typically) happens in place, which keeps the peak
//! close to what the data needs.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const PAGE: usize = 65536;

struct State {
    /// First free byte.
    top: usize,
    /// Start of the most recent allocation (the only one that can grow in place).
    last: usize,
    /// Blocks allocated and not yet freed.
    live: usize,
    /// Where the heap starts (set on first use).
    base: usize,
}

/// Bump allocator over wasm linear memory; single-threaded (wasm32 without threads).
pub struct BumpHeap {
    state: UnsafeCell<State>,
}

// SAFETY: wasm32-unknown-unknown without the atomics feature has exactly one thread.
unsafe impl Sync for BumpHeap {}

impl BumpHeap {
    /// An empty heap; memory is taken from the end of the module's data on first use.
    pub const fn new() -> Self {
        BumpHeap { state: UnsafeCell::new(State { top: 0, last: 0, live: 0, base: 0 }) }
    }
}

extern "C" {
    static __heap_base: u8;
}

fn heap_base() -> usize {
    // The linker defines __heap_base; only its address is taken (no read).
    core::ptr::addr_of!(__heap_base) as usize
}

/// Makes sure linear memory reaches `end`; false when the host refuses to grow it.
fn ensure(end: usize) -> bool {
    let have = core::arch::wasm32::memory_size(0) * PAGE;
    if end <= have {
        return true;
    }
    let need = (end - have).div_ceil(PAGE);
    core::arch::wasm32::memory_grow(0, need) != usize::MAX
}

unsafe impl GlobalAlloc for BumpHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = &mut *self.state.get();
        if s.base == 0 {
            s.base = heap_base();
            s.top = s.base;
        }
        let align = layout.align().max(8);
        let start = match s.top.checked_add(align - 1) {
            Some(v) => v & !(align - 1),
            None => return core::ptr::null_mut(),
        };
        let end = match start.checked_add(layout.size()) {
            Some(v) => v,
            None => return core::ptr::null_mut(),
        };
        if !ensure(end) {
            return core::ptr::null_mut();
        }
        s.top = end;
        s.last = start;
        s.live += 1;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let s = &mut *self.state.get();
        s.live = s.live.saturating_sub(1);
        if s.live == 0 {
            s.top = s.base;
            s.last = s.base;
        } else if ptr as usize == s.last && s.last + layout.size() == s.top {
            s.top = s.last;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let s = &mut *self.state.get();
        if ptr as usize == s.last && s.last + layout.size() == s.top {
            if let Some(end) = s.last.checked_add(new_size) {
                if ensure(end) {
                    s.top = end;
                    return ptr;
                }
            }
            return core::ptr::null_mut();
        }
        let new_layout = match Layout::from_size_align(new_size, layout.align()) {
            Ok(l) => l,
            Err(_) => return core::ptr::null_mut(),
        };
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}
