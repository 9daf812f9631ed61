//! wasi:config@0.2.0-rc.1 (`store.get`, `store.get-all`; the version Wasmtime 48 ships): the
//! component's manifest config, exactly what its `lifecycle.init` receives, read from the host
//! of the calling instance. Read-only; nothing a guest does here changes it.
use wasmtime::component::Linker;
use wasmtime_c_api::WasmtimeStoreData;

use crate::host::{CapsuleImports, HostCalls};

mod generated {
    wasmtime::component::bindgen!({
        path: "../wasi-wit/config-0.2.0-rc.1",
        world: "wasi:config/imports",
        imports: { default: async },
    });
}
use generated::wasi::config::store;

pub fn add_to_linker(linker: &mut Linker<WasmtimeStoreData>) -> wasmtime::Result<()> {
    generated::Imports::add_to_linker::<WasmtimeStoreData, CapsuleImports>(linker, |_| HostCalls)
}

/// The calling instance's config, in manifest order.
fn config() -> Result<Vec<(String, String)>, store::Error> {
    let mut a = HostCalls.ask(|v, h, a| (v.config)(h, a));
    if let Some((_, text)) = a.error() {
        return Err(store::Error::Upstream(text.clone()));
    }
    let flat = a.take_strings();
    Ok(flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect())
}

impl store::Host for HostCalls {
    async fn get(&mut self, key: String) -> Result<Option<String>, store::Error> {
        Ok(config()?.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
    }

    async fn get_all(&mut self) -> Result<Vec<(String, String)>, store::Error> {
        config()
    }
}
