//! The store's resource limiter, recording the last `memory.grow` it refused. A guest whose
//! allocation fails ends however its language runtime ends (the capsule SDK's trap, libc's
//! `abort`, a Python or JS runtime's `unreachable`): the host names the memory limit whenever a
//! call fails after a refused grow, whatever the trap looks like.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_c_api::{wasmtime_store_t, WasmtimeStoreData};

use crate::ffi::ffi_guard;

/// What C++ holds: the size in bytes a refused `memory.grow` asked for (0: none since reset).
pub struct capsule_limiter_t {
    refused: AtomicU64,
}

struct Recording {
    limits: StoreLimits,
    state: Arc<capsule_limiter_t>,
}

impl ResourceLimiter for Recording {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.state.refused.store(desired as u64, Ordering::Relaxed);
        }
        Ok(allowed)
    }
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }
    fn instances(&self) -> usize {
        self.limits.instances()
    }
    fn tables(&self) -> usize {
        self.limits.tables()
    }
    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// `wasmtime_store_limiter` (same arguments, negative: no limit) with the refusal recorded.
/// Delete the returned handle with `capsule_limiter_delete`; the store keeps its own reference.
///
/// # Safety
/// `store` is live and not in use by a call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_store_limiter(
    store: *mut wasmtime_store_t,
    memory_size: i64,
    table_elements: i64,
    instances: i64,
    tables: i64,
    memories: i64,
) -> *const capsule_limiter_t {
    // SAFETY: wasmtime_store_t is #[repr(C)] with the Store as its only field.
    let store = unsafe { &mut *(store as *mut Store<WasmtimeStoreData>) };
    ffi_guard(std::ptr::null(), || {
        let mut b = StoreLimitsBuilder::new();
        let limit = |v: i64| usize::try_from(v).ok();
        if let Some(v) = limit(memory_size) {
            b = b.memory_size(v);
        }
        if let Some(v) = limit(table_elements) {
            b = b.table_elements(v);
        }
        if let Some(v) = limit(instances) {
            b = b.instances(v);
        }
        if let Some(v) = limit(tables) {
            b = b.tables(v);
        }
        if let Some(v) = limit(memories) {
            b = b.memories(v);
        }
        let state = Arc::new(capsule_limiter_t { refused: AtomicU64::new(0) });
        let mut recording = Box::new(Recording { limits: b.build(), state: state.clone() });
        store.limiter(move |_| {
            let p: *mut Recording = &mut *recording;
            // SAFETY: the box lives in this closure, which the store owns and calls only while
            // it is alive, one borrow at a time.
            unsafe { &mut *p as &mut dyn ResourceLimiter }
        });
        Arc::into_raw(state)
    })
}

/// The size a refused `memory.grow` asked for since the last call, and forgets it (0: none).
///
/// # Safety
/// `limiter` came from `capsule_store_limiter` and is not deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_limiter_take_refused(limiter: *const capsule_limiter_t) -> u64 {
    unsafe { (*limiter).refused.swap(0, Ordering::Relaxed) }
}

/// # Safety
/// `limiter` came from `capsule_store_limiter`; deleted once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_limiter_delete(limiter: *const capsule_limiter_t) {
    if !limiter.is_null() {
        drop(unsafe { Arc::from_raw(limiter) });
    }
}
