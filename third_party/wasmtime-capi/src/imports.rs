//! Which imports of a component the host's linker cannot satisfy, found before any instance
//! starts: `capsule inspect` and `WasmEngine::load` refuse such a component naming every one,
//! instead of a compatibility check that knows only names and an instantiation that fails later.
//!
//! Wasmtime's `instantiate_pre` type-checks every import against the real linker but stops at
//! the first failure. To name all of them, each failing import gets a stand-in (trapping
//! functions, placeholder resources) in a private copy of the linker and the check runs again.
use std::ffi::c_void;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceType};
use wasmtime_c_api::{
    wasmtime_component_linker_t, wasmtime_component_t, wasmtime_error_t, WasmtimeStoreData,
};

use crate::ffi::{capsule_bytes_t, ffi_guard};

struct Unsatisfied {
    name: String,
    reason: String,
}

/// The type behind a stand-in resource; never instantiated.
struct StandIn;

/// Why the import is unsatisfied, from the causes under Wasmtime's "component imports instance
/// `x`, but ..." line. Wasmtime words a function the linker lacks as "instance export `f` has
/// the wrong type" caused by "function implementation is missing": say it plainly instead.
fn reason(err: &wasmtime::Error) -> String {
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    if causes.last().is_some_and(|c| c.ends_with("implementation is missing")) {
        let item = causes.iter().rev().find_map(|c| {
            c.strip_prefix("instance export ").and_then(|r| r.strip_suffix(" has the wrong type"))
        });
        return match item {
            Some(item) => format!("not defined by this host: {item} is missing"),
            None => "not defined by this host".to_string(),
        };
    }
    causes.join("; ")
}

fn stand_in(probe: &mut Linker<WasmtimeStoreData>, name: &str, item: &ComponentItem) -> wasmtime::Result<()> {
    let engine = probe.engine().clone();
    match item {
        ComponentItem::ComponentFunc(_) => {
            probe.root().func_new(name, |_, _, _, _| wasmtime::bail!("stand-in import"))
        }
        ComponentItem::Resource(_) => {
            probe.root().resource(name, ResourceType::host::<StandIn>(), |_, _| Ok(()))
        }
        ComponentItem::ComponentInstance(instance) => {
            let mut li = probe.instance(name)?;
            for (export, ty) in instance.exports(&engine) {
                match ty.ty {
                    ComponentItem::ComponentFunc(_) => {
                        li.func_new(export, |_, _, _, _| wasmtime::bail!("stand-in import"))?
                    }
                    ComponentItem::Resource(_) => {
                        li.resource(export, ResourceType::host::<StandIn>(), |_, _| Ok(()))?
                    }
                    ComponentItem::Type(_) => {}
                    _ => wasmtime::bail!("no stand-in for `{name}`'s export `{export}`"),
                }
            }
            Ok(())
        }
        _ => wasmtime::bail!("no stand-in for import `{name}`"),
    }
}

fn unsatisfied(
    linker: &Linker<WasmtimeStoreData>,
    component: &Component,
) -> wasmtime::Result<Vec<Unsatisfied>> {
    let engine = linker.engine().clone();
    let imports: Vec<(String, ComponentItem)> =
        component.component_type().imports(&engine).map(|(n, e)| (n.to_string(), e.ty)).collect();
    if linker.instantiate_pre(component).is_ok() {
        return Ok(Vec::new()); // the common case: no copy of the linker
    }
    let mut probe = linker.clone();
    probe.allow_shadowing(true);
    let mut found: Vec<Unsatisfied> = Vec::new();
    for _ in 0..=imports.len() {
        let Err(err) = probe.instantiate_pre(component) else { break };
        let top = err.to_string();
        let named = imports.iter().find(|(n, _)| top.contains(&format!("`{n}`")));
        let Some((name, item)) = named else {
            // Not about one import (another engine, say): the whole error is the answer.
            if found.is_empty() {
                return Err(err);
            }
            break;
        };
        if found.iter().any(|u| &u.name == name) {
            break; // its stand-in did not satisfy the check: it is named already
        }
        found.push(Unsatisfied { name: name.clone(), reason: reason(&err) });
        if stand_in(&mut probe, name, item).is_err() {
            break;
        }
    }
    Ok(found)
}

/// Calls `missing(ctx, name, reason)` once per import of `component` that `linker` cannot
/// satisfy (not defined, or defined with another type); none for a component that can be
/// instantiated. Returns an error, with Wasmtime's whole chain, when the check itself failed.
///
/// # Safety
/// `linker` and `component` are live; `missing` does not keep the spans past its return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_linker_check_imports(
    linker: *const wasmtime_component_linker_t,
    component: *const wasmtime_component_t,
    missing: extern "C" fn(*mut c_void, capsule_bytes_t, capsule_bytes_t),
    ctx: *mut c_void,
) -> Option<Box<wasmtime_error_t>> {
    // SAFETY: both C API handles are #[repr(transparent)] over these Wasmtime types.
    let linker = unsafe { &*(linker as *const Linker<WasmtimeStoreData>) };
    let component = unsafe { &*(component as *const Component) };
    let panicked = Some(Box::new(wasmtime_error_t::from(wasmtime::format_err!(
        "panic while checking the component's imports"
    ))));
    ffi_guard(panicked, || match unsatisfied(linker, component) {
        Ok(list) => {
            for u in &list {
                missing(ctx, capsule_bytes_t::of(u.name.as_bytes()), capsule_bytes_t::of(u.reason.as_bytes()));
            }
            None
        }
        Err(e) => Some(Box::new(wasmtime_error_t::from(e))),
    })
}
