//! WASI 0.2 with async host functions, and capsule's imports, on the C API's linker
//! (instantiation is in instance_pre.rs).
//!
//! The C API offers both only behind its `component-model-async` feature, which would rebuild
//! Wasmtime with the async component model we do not use. Its linker and component handles are
//! `#[repr(transparent)]` wrappers, so we reach the Wasmtime types they wrap directly.
use wasmtime::component::Linker;
use wasmtime_c_api::{wasmtime_component_linker_t, wasmtime_error_t, WasmtimeStoreData};

use crate::bindings;
use crate::ffi::ffi_guard;
use crate::host::{CapsuleImports, HostCalls};

/// Adds WASI 0.2 with async host functions: a guest that sleeps or polls suspends its call.
///
/// # Safety
/// `linker` is live and not shared with a running instantiation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_linker_add_wasip2_async(
    linker: *mut wasmtime_component_linker_t,
) -> Option<Box<wasmtime_error_t>> {
    // SAFETY: wasmtime_component_linker_t is #[repr(transparent)] over this Linker.
    let linker = unsafe { &mut *(linker as *mut Linker<WasmtimeStoreData>) };
    ffi_guard(Some(Box::new(wasmtime_error_t::from(wasmtime::format_err!("panic adding WASI")))), || {
        wasmtime_wasi::p2::add_to_linker_async(linker)
            .and_then(|()| route_wasi_clocks(linker))
            .and_then(|()| route_wasi_random(linker))
            .err()
            .map(|e| Box::new(wasmtime_error_t::from(e)))
    })
}

/// The WASI package version Wasmtime 48 links (older 0.2.x imports resolve to it by semver).
const WASI_VERSION: &str = "@0.2.12";

/// WASI's clock reads answer through the same host functions as `services.monotonic-now-ns` and
/// `services.wall-clock-now-ms`: a deny rule on `services.time` reaches a guest that reads the
/// clock through WASI (libc's clock_gettime) too, and a denied read is 0 both ways.
fn route_wasi_clocks(linker: &mut Linker<WasmtimeStoreData>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
    linker.allow_shadowing(true);
    linker
        .instance(&format!("wasi:clocks/monotonic-clock{WASI_VERSION}"))?
        .func_wrap("now", |_, (): ()| Ok((crate::host::monotonic_now_ns(),)))?;
    linker
        .instance(&format!("wasi:clocks/wall-clock{WASI_VERSION}"))?
        .func_wrap("now", |_, (): ()| {
            let ms = crate::host::wall_clock_now_ms();
            let nanoseconds = u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0);
            Ok((Datetime { seconds: ms / 1000, nanoseconds },))
        })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Largest WASI random read served in one call (libc asks for 256 bytes at most): a guest cannot
/// make the host allocate whatever length it names.
const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// `len` bytes from the kernel's CSPRNG, if the polling call's component may read random.
fn random_bytes(len: u64) -> wasmtime::Result<Vec<u8>> {
    use std::io::Read;
    if !crate::host::random_allowed() {
        wasmtime::bail!("permission denied: services.random is denied to this component (WASI random)");
    }
    if len > MAX_RANDOM_BYTES {
        wasmtime::bail!("WASI random read of {len} bytes refused (at most {MAX_RANDOM_BYTES} per call)");
    }
    let mut bytes = vec![0u8; usize::try_from(len)?];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn random_u64() -> wasmtime::Result<u64> {
    let b = random_bytes(8)?;
    Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
}

/// WASI random (secure, insecure and the insecure seed) answers through the host's
/// `services.random` check: a deny rule makes the guest's read trap, named and audited.
fn route_wasi_random(linker: &mut Linker<WasmtimeStoreData>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut secure = linker.instance(&format!("wasi:random/random{WASI_VERSION}"))?;
    secure.func_wrap("get-random-bytes", |_, (len,): (u64,)| Ok((random_bytes(len)?,)))?;
    secure.func_wrap("get-random-u64", |_, (): ()| Ok((random_u64()?,)))?;
    let mut insecure = linker.instance(&format!("wasi:random/insecure{WASI_VERSION}"))?;
    insecure.func_wrap("get-insecure-random-bytes", |_, (len,): (u64,)| Ok((random_bytes(len)?,)))?;
    insecure.func_wrap("get-insecure-random-u64", |_, (): ()| Ok((random_u64()?,)))?;
    linker
        .instance(&format!("wasi:random/insecure-seed{WASI_VERSION}"))?
        .func_wrap("insecure-seed", |_, (): ()| Ok(((random_u64()?, random_u64()?),)))?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Adds capsule's own imports (messaging, services, storage), generated from `wit/` and answered
/// by the C++ host through the vtable each call names (`capsule_call_set_host`), and the standard
/// interfaces answered by the same host: wasi:keyvalue (on capsule storage), wasi:config (the
/// manifest config) and wasi:logging (the host log).
///
/// # Safety
/// `linker` is live and not shared with a running instantiation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_linker_add_capsule_imports(
    linker: *mut wasmtime_component_linker_t,
) -> Option<Box<wasmtime_error_t>> {
    // SAFETY: wasmtime_component_linker_t is #[repr(transparent)] over this Linker.
    let linker = unsafe { &mut *(linker as *mut Linker<WasmtimeStoreData>) };
    ffi_guard(Some(Box::new(wasmtime_error_t::from(wasmtime::format_err!("panic adding imports")))), || {
        bindings::Component::add_to_linker::<WasmtimeStoreData, CapsuleImports>(linker, |_| HostCalls)
            .and_then(|()| add_wasi_services(linker))
            .err()
            .map(|e| Box::new(wasmtime_error_t::from(e)))
    })
}

/// wasi:keyvalue, wasi:config and wasi:logging, answered by the calling instance's host.
fn add_wasi_services(linker: &mut Linker<WasmtimeStoreData>) -> wasmtime::Result<()> {
    crate::wasi_keyvalue::add_to_linker(linker)
        .and_then(|()| crate::wasi_config::add_to_linker(linker))
        .and_then(|()| crate::wasi_logging::add_to_linker(linker))
}
