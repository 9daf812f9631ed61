//! The fiber stack an idle store keeps, handed back to the kernel.
//!
//! Wasmtime keeps a store's last fiber stack in the store for its next call, and a pooled stack
//! goes back to the pool only when the store is dropped: every idle instance holds the pages its
//! last call touched (one 4 KiB page for a small guest; 400 MiB at 100,000 instances). Between
//! calls nothing lives on that stack (each call starts a fresh fiber at its top), so its pages
//! can be dropped with MADV_DONTNEED: the kernel frees them and the next call's first touch
//! maps a zero page.
//!
//! Wasmtime does not say where a store's stack is. The store's epoch callback runs on it: a
//! store's calls start with the epoch deadline already due until its stack is known, and the
//! callback records an address of its own frame. The pool lays stacks out in slots of one
//! stride (a guard page, then the stack), so the slot's top follows from any address in it and
//! one slot of the same pool, found once per engine in /proc/self/maps.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use wasmtime::{Store, UpdateDeadline};
use wasmtime_c_api::{wasmtime_store_t, WasmtimeStoreData};

use crate::ffi::ffi_guard;

/// Wasmtime's async stack size, which capsule's engine does not change (src/wasm/engine.cpp).
const STACK_BYTES: usize = 2 << 20;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096)
}

/// One engine's pool of fiber stacks: the stride of its slots and the top of one of them.
pub struct capsule_stack_pool_t {
    page: usize,
    stride: usize,
    /// The top of some slot of this pool; `None`: its stacks are not laid out as expected, and
    /// nothing is released.
    anchor: OnceLock<Option<usize>>,
}

impl capsule_stack_pool_t {
    /// The top of the stack holding `sp`.
    fn top_of(&self, sp: usize) -> Option<usize> {
        let anchor = (*self.anchor.get_or_init(|| self.find_anchor(sp)))?;
        let stride = self.stride as i128;
        let to_top = (anchor as i128 - sp as i128).rem_euclid(stride);
        // `sp` is in a stack, never in a guard page: its top is above it, within one stack.
        if to_top == 0 || to_top > stride - self.page as i128 {
            return None;
        }
        Some(sp + to_top as usize)
    }

    /// The top of the mapping holding `sp`, if it is one pooled stack (guard pages split the pool
    /// into one mapping per stack).
    fn find_anchor(&self, sp: usize) -> Option<usize> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        for line in maps.lines() {
            let range = line.split_whitespace().next()?;
            let (lo, hi) = range.split_once('-')?;
            let lo = usize::from_str_radix(lo, 16).ok()?;
            let hi = usize::from_str_radix(hi, 16).ok()?;
            if lo <= sp && sp < hi {
                return (hi - lo + self.page == self.stride).then_some(hi);
            }
        }
        None
    }
}

/// One store's stack: its top once a call has run on it.
pub struct capsule_stack_t {
    pool: Arc<capsule_stack_pool_t>,
    top: AtomicUsize,
}

impl capsule_stack_t {
    fn range(&self) -> Option<(usize, usize)> {
        let top = self.top.load(Ordering::Acquire);
        let len = self.pool.stride - self.pool.page;
        (top != 0).then_some((top - len, len))
    }
}

/// The stack pool of an engine whose pooling allocator holds its fiber stacks.
#[unsafe(no_mangle)]
pub extern "C" fn capsule_stack_pool_new() -> *const capsule_stack_pool_t {
    ffi_guard(std::ptr::null(), || {
        let page = page_size();
        let stride = STACK_BYTES.div_ceil(page) * page + page;
        Arc::into_raw(Arc::new(capsule_stack_pool_t { page, stride, anchor: OnceLock::new() }))
    })
}

/// # Safety
/// `pool` came from `capsule_stack_pool_new`; deleted once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_stack_pool_delete(pool: *const capsule_stack_pool_t) {
    if !pool.is_null() {
        drop(unsafe { Arc::from_raw(pool) });
    }
}

/// Installs `store`'s epoch callback: it finds the store's stack at the first deadline, then
/// yields every tick (as `wasmtime_context_epoch_deadline_async_yield_and_update(cx, 1)`).
/// Delete the returned handle with `capsule_stack_delete`; the store keeps its own reference.
///
/// # Safety
/// `store` is live and not in use by a call; `pool` came from `capsule_stack_pool_new` and is
/// the pool of the store's engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_store_track_stack(
    store: *mut wasmtime_store_t,
    pool: *const capsule_stack_pool_t,
) -> *const capsule_stack_t {
    // SAFETY: wasmtime_store_t is #[repr(C)] with the Store as its only field.
    let store = unsafe { &mut *(store as *mut Store<WasmtimeStoreData>) };
    let pool = unsafe {
        Arc::increment_strong_count(pool);
        Arc::from_raw(pool)
    };
    ffi_guard(std::ptr::null(), move || {
        let stack = Arc::new(capsule_stack_t { pool, top: AtomicUsize::new(0) });
        let seen = stack.clone();
        store.epoch_deadline_callback(move |_| {
            if seen.top.load(Ordering::Relaxed) == 0 {
                let here = 0u8;
                let sp = std::hint::black_box(&here) as *const u8 as usize;
                // Unknown stays unknown (0): the store's stack is then never released.
                let top = seen.pool.top_of(sp).unwrap_or(usize::MAX);
                seen.top.store(top, Ordering::Release);
                return Ok(UpdateDeadline::Continue(1));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        Arc::into_raw(stack)
    })
}

/// Whether the store's calls have found its stack (they start with the deadline due until then).
///
/// # Safety
/// `stack` came from `capsule_store_track_stack` and is not deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_stack_known(stack: *const capsule_stack_t) -> bool {
    unsafe { (*stack).top.load(Ordering::Acquire) != 0 }
}

/// Drops the pages of the store's idle stack; false if its stack is not known.
///
/// # Safety
/// `stack` came from `capsule_store_track_stack`; no call of its store is in flight.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_stack_release(stack: *const capsule_stack_t) -> bool {
    let stack = unsafe { &*stack };
    match stack.range() {
        Some((lo, len)) if stack.top.load(Ordering::Relaxed) != usize::MAX => {
            // SAFETY: the range is this store's stack and no fiber runs on it (no call in
            // flight); the pool's mapping is private and anonymous, so the pages read as zeros.
            unsafe { libc::madvise(lo as *mut libc::c_void, len, libc::MADV_DONTNEED) == 0 }
        }
        _ => false,
    }
}

/// The pages of the store's stack that are resident (mincore), or -1 if its stack is not known.
///
/// # Safety
/// `stack` came from `capsule_store_track_stack` and is not deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_stack_resident_pages(stack: *const capsule_stack_t) -> i64 {
    let stack = unsafe { &*stack };
    let Some((lo, len)) = stack.range().filter(|_| stack.top.load(Ordering::Relaxed) != usize::MAX)
    else {
        return -1;
    };
    let mut pages = vec![0u8; len / stack.pool.page];
    // SAFETY: the range is mapped (one pooled stack) and `pages` holds a byte per page.
    if unsafe { libc::mincore(lo as *mut libc::c_void, len, pages.as_mut_ptr()) } != 0 {
        return -1;
    }
    pages.iter().filter(|p| **p & 1 != 0).count() as i64
}

/// # Safety
/// `stack` came from `capsule_store_track_stack`; deleted once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_stack_delete(stack: *const capsule_stack_t) {
    if !stack.is_null() {
        drop(unsafe { Arc::from_raw(stack) });
    }
}
