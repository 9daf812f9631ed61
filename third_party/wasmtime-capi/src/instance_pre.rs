//! A component pre-instantiated against the linker once, when it is loaded: its imports resolved
//! and its lifecycle exports looked up a single time, shared by every instance made from it.
//!
//! `bindings::Component::instantiate_async` does both per call (`Linker::instantiate_pre`, then
//! the export indices), and every instance kept its own copy of the resolved imports: ~0.8 KB of
//! heap per idle instance, 80 MB at 100,000 instances (docs/engine.md, "Memory of an idle
//! instance"), and the time to resolve them on every start.
use wasmtime::component::{Component, Linker};
use wasmtime_c_api::{
    wasmtime_component_linker_t, wasmtime_component_t, wasmtime_error_t, WasmtimeStoreContextMut,
    WasmtimeStoreData,
};

use crate::bindings::ComponentPre;
use crate::call::{capsule_call_t, Output};
use crate::ffi::ffi_guard;
use crate::lifecycle::{capsule_exports_t, DetachedStore};

pub struct capsule_component_pre_t {
    pre: ComponentPre<WasmtimeStoreData>,
}

/// Pre-instantiates `component` against `linker`: on success `*out` owns the result (free it with
/// `capsule_component_pre_delete`); on failure (an import the linker lacks, a missing lifecycle
/// export) the error is returned and `*out` is untouched.
///
/// # Safety
/// `linker` and `component` are live C API handles; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_component_pre_new(
    linker: *const wasmtime_component_linker_t,
    component: *const wasmtime_component_t,
    out: *mut *mut capsule_component_pre_t,
) -> Option<Box<wasmtime_error_t>> {
    // SAFETY: both C API handles are #[repr(transparent)] over these Wasmtime types (linker.rs).
    let linker = unsafe { &*(linker as *const Linker<WasmtimeStoreData>) };
    let component = unsafe { &*(component as *const Component) };
    ffi_guard(
        Some(Box::new(wasmtime_error_t::from(wasmtime::format_err!(
            "panic pre-instantiating"
        )))),
        || {
            let made = linker
                .instantiate_pre(component)
                .and_then(ComponentPre::new);
            match made {
                Ok(pre) => {
                    // SAFETY: the caller passed a writable pointer.
                    unsafe { *out = Box::into_raw(Box::new(capsule_component_pre_t { pre })) };
                    None
                }
                Err(e) => Some(Box::new(wasmtime_error_t::from(e))),
            }
        },
    )
}

/// # Safety
/// `pre` came from `capsule_component_pre_new` (or is null) and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_component_pre_delete(pre: *mut capsule_component_pre_t) {
    if !pre.is_null() {
        // SAFETY: as documented.
        drop(unsafe { Box::from_raw(pre) });
    }
}

/// Instantiates a pre-instantiated component into the store and type-checks its lifecycle exports;
/// ready with STATUS_OK, take the exports with `capsule_call_take_exports`.
///
/// # Safety
/// `pre` is live for this call (the call holds its own clone afterwards); the store is not
/// touched until the call is ready.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_instantiate_pre(
    pre: *const capsule_component_pre_t,
    cx: WasmtimeStoreContextMut<'_>,
) -> *mut capsule_call_t {
    // SAFETY: as documented; a clone shares the resolved imports (reference counts).
    let pre = unsafe { &*pre }.pre.clone();
    let mut store = unsafe { DetachedStore::new(cx) };
    ffi_guard(std::ptr::null_mut(), move || {
        capsule_call_t::new(Box::pin(async move {
            match pre.instantiate_async(store.cx()).await {
                Ok(world) => Output::Instantiated(Box::new(capsule_exports_t {
                    lifecycle: world.capsule_core_lifecycle().clone(),
                })),
                Err(e) => Output::from_error(e),
            }
        }))
    })
}
