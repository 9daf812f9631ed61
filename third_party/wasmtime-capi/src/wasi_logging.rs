//! wasi:logging@0.1.0-draft (`logging.log(level, context, message)`, as Spin and wasmCloud
//! guests use it): one line of the host log through the same host entry as
//! `capsule:core/services.log`, so the same capability check (`log`) and the same per-component
//! line and byte quota apply. The context becomes the field `context`; `critical`, which capsule's
//! levels lack, is logged at `error` with the field `wasi-level=critical`.
use wasmtime::component::Linker;
use wasmtime_c_api::WasmtimeStoreData;

use crate::ffi::capsule_bytes_t;
use crate::host::{CapsuleImports, HostCalls};
use crate::lifecycle::capsule_kv_t;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wasi-wit/logging-0.1.0-draft",
        world: "wasi:logging/imports",
        imports: { default: async },
    });
}
use generated::wasi::logging::logging;

pub fn add_to_linker(linker: &mut Linker<WasmtimeStoreData>) -> wasmtime::Result<()> {
    generated::Imports::add_to_linker::<WasmtimeStoreData, CapsuleImports>(linker, |_| HostCalls)
}

impl logging::Host for HostCalls {
    async fn log(&mut self, level: logging::Level, context: String, message: String) {
        use logging::Level as L;
        // capsule's LogLevel numbering (host.rs, services.log).
        let (level, critical) = match level {
            L::Trace => (0, false),
            L::Debug => (1, false),
            L::Info => (2, false),
            L::Warn => (3, false),
            L::Error => (4, false),
            L::Critical => (4, true),
        };
        let mut fields = Vec::with_capacity(2);
        if !context.is_empty() {
            fields.push(capsule_kv_t { key: capsule_bytes_t::of(b"context"), value: capsule_bytes_t::of(context.as_bytes()) });
        }
        if critical {
            fields.push(capsule_kv_t { key: capsule_bytes_t::of(b"wasi-level"), value: capsule_bytes_t::of(b"critical") });
        }
        self.with(|v, h| (v.log)(h, level, capsule_bytes_t::of(message.as_bytes()), fields.as_ptr(), fields.len()));
    }
}
