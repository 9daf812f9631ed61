//! Why a guest call failed, read from Wasmtime's error types (`wasmtime::Trap`, the backtrace's
//! frames), never from message text a guest could shape.
use wasmtime::{Trap, WasmBacktrace};

/// `capsule_failure` in the C header: keep the numbers in sync with src/wasm/shim.hpp.
pub const FAILURE_TRAP: u8 = 1;
pub const FAILURE_OUT_OF_FUEL: u8 = 2;
pub const FAILURE_INTERRUPT: u8 = 3;
pub const FAILURE_STACK_OVERFLOW: u8 = 4;
pub const FAILURE_MEMORY_LIMIT: u8 = 5;
/// Not a trap: a link error, a type mismatch, a host-side failure.
pub const FAILURE_HOST: u8 = 6;
/// The guest handed the host a string that is not valid UTF-8 (or UTF-16): the canonical ABI's
/// lifting refused it before any host code ran. (7 is `FAILURE_INVALID_INPUT`, lifecycle.rs.)
pub const FAILURE_INVALID_STRING: u8 = 8;

/// Guests built with the capsule SDK trap in this function when an allocation fails under the
/// memory limit (Wasmtime's limiter makes `memory.grow` return -1 instead of trapping).
const GUEST_OOM_FRAME: &str = "capsule_guest_out_of_memory";

pub fn classify(err: &wasmtime::Error) -> u8 {
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => FAILURE_OUT_OF_FUEL,
        Some(Trap::Interrupt) => FAILURE_INTERRUPT,
        Some(Trap::StackOverflow) => FAILURE_STACK_OVERFLOW,
        Some(Trap::UnreachableCodeReached) if out_of_memory_frame(err) => FAILURE_MEMORY_LIMIT,
        Some(_) => FAILURE_TRAP,
        // Instantiation of a component whose initial memory is above the store's limit.
        None if invalid_string(err) => FAILURE_INVALID_STRING,
        None if format!("{err:#}").contains("exceeds memory limits") => FAILURE_MEMORY_LIMIT,
        None => FAILURE_HOST,
    }
}

/// Lifting a guest string failed its encoding check: the error in the chain is the decoder's
/// own type, whatever the guest put in the bytes.
fn invalid_string(err: &wasmtime::Error) -> bool {
    err.chain()
        .any(|e| e.is::<std::str::Utf8Error>() || e.is::<std::char::DecodeUtf16Error>())
}

/// The trap was raised by the SDK's allocation-failure path, or by `cabi_realloc` failing while
/// the host lowered arguments into a full memory.
fn out_of_memory_frame(err: &wasmtime::Error) -> bool {
    let Some(trace) = err.downcast_ref::<WasmBacktrace>() else {
        return false;
    };
    trace.frames().iter().take(3).any(|f| {
        f.func_name().is_some_and(|n| n == GUEST_OOM_FRAME || n == "cabi_realloc")
    })
}

/// The message for people: cause first, then Wasmtime's chain and backtrace, cut at 4 KiB on a
/// UTF-8 boundary.
pub fn describe(err: &wasmtime::Error) -> String {
    let mut text = format!("{err:?}");
    if text.len() > 4096 {
        let mut cut = 4096;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
