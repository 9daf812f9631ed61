//! Host-side bindings of the `capsule:core/component` world, generated from `wit/` at build time.
//! Only the export side is used so far: imports are still defined through the C API linker by the
//! C++ host (src/wasm/host_linker.cpp).
#![allow(dead_code, clippy::all)]

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "capsule:core/component",
    imports: { default: async },
    exports: { default: async },
    ownership: Borrowing { duplicate_if_necessary: true },
});
