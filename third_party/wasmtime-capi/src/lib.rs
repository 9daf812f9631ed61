//! Re-exports the Wasmtime C API so that every `#[no_mangle]` symbol lands in our staticlib.
pub use wasmtime_c_api::*;
