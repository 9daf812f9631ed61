//! Re-exports the Wasmtime C API so that every `#[no_mangle]` symbol lands in our staticlib, and
//! adds typed calls of capsule's hot lifecycle exports (see `typed_lifecycle`).
pub use wasmtime_c_api::*;

mod typed_lifecycle;
