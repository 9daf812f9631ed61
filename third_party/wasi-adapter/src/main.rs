use std::io::Write;

fn main() {
    let out = std::env::args().nth(1).expect("usage: capsule-wasi-adapter <output.wasm>");
    let bytes = wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;
    let tmp = format!("{out}.tmp");
    let mut file = std::fs::File::create(&tmp).expect("creating adapter file");
    file.write_all(bytes).expect("writing adapter");
    file.sync_all().expect("syncing adapter");
    std::fs::rename(&tmp, &out).expect("renaming adapter into place");
}
