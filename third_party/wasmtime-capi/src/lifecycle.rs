//! The lifecycle exports as resumable calls. Each entry point checks its inputs, then returns a
//! `capsule_call_t` whose future makes the generated, typed call: the canonical ABI copies
//! payloads in bulk, and nothing is marshalled by hand.
//!
//! Inputs are borrowed, not copied: C++ keeps every span passed here alive, and does not touch
//! the store, until the call is ready or deleted (src/wasm/guest_call.cpp owns both).
use wasmtime::StoreContextMut;
use wasmtime_c_api::{WasmtimeStoreContextMut, WasmtimeStoreData};

use crate::bindings::capsule::core::types as t;
use crate::bindings::exports::capsule::core::lifecycle as wit;
use crate::call::{capsule_call_t, Output};
use crate::ffi::{capsule_bytes_t, capsule_id_t, ffi_guard};

/// The typed exports of one instance; C++ keeps them next to the instance's store.
pub struct capsule_exports_t {
    pub(crate) lifecycle: wit::Guest,
}

/// # Safety
/// `exports` came from `capsule_call_take_exports`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_exports_delete(exports: *mut capsule_exports_t) {
    if !exports.is_null() {
        drop(unsafe { Box::from_raw(exports) });
    }
}

/// The store, detached from the borrow the C API handed us: the future outlives this call's
/// frame. Sound because C++ does not touch the store while the call is alive.
pub(crate) struct DetachedStore(StoreContextMut<'static, WasmtimeStoreData>);
// SAFETY: WasmtimeStoreData is Send (its foreign data is declared Send by the C API), and the
// store is used by one thread at a time: whichever thread polls the call.
unsafe impl Send for DetachedStore {}

impl DetachedStore {
    pub(crate) unsafe fn new(cx: WasmtimeStoreContextMut<'_>) -> DetachedStore {
        DetachedStore(unsafe { std::mem::transmute::<_, StoreContextMut<'static, _>>(cx) })
    }
    pub(crate) fn cx(&mut self) -> &mut StoreContextMut<'static, WasmtimeStoreData> {
        &mut self.0
    }
}

/// Borrowed C++ memory carried into the future.
struct Borrowed<T>(T);
// SAFETY: the spans point at memory C++ keeps alive and unchanged for the call's lifetime.
unsafe impl<T> Send for Borrowed<T> {}

#[repr(C)]
pub struct capsule_kv_t {
    pub key: capsule_bytes_t,
    pub value: capsule_bytes_t,
}

#[repr(C)]
pub struct capsule_message_t {
    pub sender: capsule_id_t,
    pub codec: u32,
    pub payload: capsule_bytes_t,
    pub has_correlation: bool,
    pub correlation: u64,
    pub has_topic: bool,
    pub topic: capsule_bytes_t,
}

#[repr(C)]
pub struct capsule_callback_t {
    pub correlation: u64,
    pub responder: capsule_id_t,
    pub is_ok: bool,
    pub codec: u32,
    pub payload: capsule_bytes_t,
    pub error_tag: u8,
    pub error_text: capsule_bytes_t,
}

/// An input the host passed is not valid UTF-8: the call never reaches the guest.
pub const FAILURE_INVALID_INPUT: u8 = 7;

fn ready(output: Output) -> *mut capsule_call_t {
    capsule_call_t::new(Box::pin(async move { output }))
}

fn invalid(what: &str) -> *mut capsule_call_t {
    ready(Output::Failed(FAILURE_INVALID_INPUT, format!("{what} is not valid UTF-8")))
}

unsafe fn text(b: &capsule_bytes_t) -> Option<&'static str> {
    unsafe { b.as_str().ok() }
}

unsafe fn id(c: &capsule_id_t) -> Option<t::ComponentIdParam<'static>> {
    unsafe {
        Some(t::ComponentIdParam {
            namespace: text(&c.ns)?,
            name: text(&c.name)?,
            instance: text(&c.instance)?,
        })
    }
}

fn guest_error(e: t::ErrorResult) -> Output {
    use t::ErrorResult as E;
    let (tag, text) = match e {
        E::InvalidArgument(s) => (0, s),
        E::NotFound(s) => (1, s),
        E::PermissionDenied(s) => (2, s),
        E::QuotaExceeded(s) => (3, s),
        E::Timeout(s) => (4, s),
        E::Cancelled(s) => (5, s),
        E::Unavailable(s) => (6, s),
        E::NotImplemented(s) => (7, s),
        E::Internal(s) => (8, s),
    };
    Output::GuestError(tag, text)
}

fn error_param(tag: u8, text: &str) -> t::ErrorParam<'_> {
    use t::ErrorParam as E;
    match tag {
        0 => E::InvalidArgument(text),
        1 => E::NotFound(text),
        2 => E::PermissionDenied(text),
        3 => E::QuotaExceeded(text),
        4 => E::Timeout(text),
        5 => E::Cancelled(text),
        6 => E::Unavailable(text),
        7 => E::NotImplemented(text),
        _ => E::Internal(text),
    }
}

/// Starts one export call: `body` gets the instance's typed exports and its store, and its
/// future becomes the call.
///
/// # Safety
/// See the module comment.
unsafe fn start_export<F>(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
    body: impl FnOnce(wit::Guest, DetachedStore) -> F,
) -> *mut capsule_call_t
where
    F: std::future::Future<Output = Output> + Send + 'static,
{
    let guest = unsafe { (*exports).lifecycle.clone() };
    let store = unsafe { DetachedStore::new(cx) };
    ffi_guard(std::ptr::null_mut(), || capsule_call_t::new(Box::pin(body(guest, store))))
}

/// # Safety
/// See the module comment; `config` points at `n` pairs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_init(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
    config: *const capsule_kv_t,
    n: usize,
) -> *mut capsule_call_t {
    let raw = if n == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(config, n) } };
    let mut pairs = Vec::with_capacity(n);
    for kv in raw {
        match unsafe { (text(&kv.key), text(&kv.value)) } {
            (Some(k), Some(v)) => pairs.push((k, v)),
            _ => return invalid("a config entry"),
        }
    }
    let pairs = Borrowed(pairs);
    unsafe {
        start_export(exports, cx, move |guest, mut store| async move {
            let pairs = pairs;
            match guest.call_init(store.cx(), &pairs.0).await {
                Ok(Ok(())) => Output::Unit,
                Ok(Err(e)) => guest_error(e),
                Err(e) => Output::from_error(e),
            }
        })
    }
}

/// # Safety
/// See the module comment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_handle_message(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
    msg: *const capsule_message_t,
) -> *mut capsule_call_t {
    let msg = unsafe { &*msg };
    let Some(sender) = (unsafe { id(&msg.sender) }) else { return invalid("the sender id") };
    let topic = if msg.has_topic {
        match unsafe { text(&msg.topic) } {
            Some(t) => Some(t),
            None => return invalid("the topic"),
        }
    } else {
        None
    };
    let arg = Borrowed(wit::Message {
        sender,
        payload: t::PayloadParam { codec: msg.codec, bytes: unsafe { msg.payload.as_slice() } },
        correlation: msg.has_correlation.then_some(msg.correlation),
        topic,
    });
    unsafe {
        start_export(exports, cx, move |guest, mut store| async move {
            let arg = arg;
            match guest.call_handle_message(store.cx(), arg.0).await {
                Ok(Ok(None)) => Output::Reply(None),
                Ok(Ok(Some(p))) => Output::Reply(Some((p.codec, p.bytes))),
                Ok(Err(e)) => guest_error(e),
                Err(e) => Output::from_error(e),
            }
        })
    }
}

/// # Safety
/// See the module comment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_handle_callback(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
    cb: *const capsule_callback_t,
) -> *mut capsule_call_t {
    let cb = unsafe { &*cb };
    let Some(responder) = (unsafe { id(&cb.responder) }) else {
        return invalid("the responder id");
    };
    let outcome = if cb.is_ok {
        Ok(t::PayloadParam { codec: cb.codec, bytes: unsafe { cb.payload.as_slice() } })
    } else {
        match unsafe { text(&cb.error_text) } {
            Some(t) => Err(error_param(cb.error_tag, t)),
            None => return invalid("the error text"),
        }
    };
    let arg = Borrowed(wit::Callback { correlation: cb.correlation, responder, outcome });
    unsafe {
        start_export(exports, cx, move |guest, mut store| async move {
            let arg = arg;
            match guest.call_handle_callback(store.cx(), arg.0).await {
                Ok(Ok(())) => Output::Unit,
                Ok(Err(e)) => guest_error(e),
                Err(e) => Output::from_error(e),
            }
        })
    }
}

/// # Safety
/// See the module comment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_health(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
) -> *mut capsule_call_t {
    unsafe {
        start_export(exports, cx, move |guest, mut store| async move {
            match guest.call_health(store.cx()).await {
                Ok(h) => Output::Health(match h {
                    wit::HealthStatus::Healthy => 0,
                    wit::HealthStatus::Degraded => 1,
                    wit::HealthStatus::Unhealthy => 2,
                }),
                Err(e) => Output::from_error(e),
            }
        })
    }
}

/// # Safety
/// See the module comment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_shutdown(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
) -> *mut capsule_call_t {
    unsafe {
        start_export(exports, cx, move |guest, mut store| async move {
            match guest.call_shutdown(store.cx()).await {
                Ok(()) => Output::Unit,
                Err(e) => Output::from_error(e),
            }
        })
    }
}

/// # Safety
/// See the module comment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_metadata_of(
    exports: *const capsule_exports_t,
    cx: WasmtimeStoreContextMut<'_>,
) -> *mut capsule_call_t {
    unsafe {
        start_export(exports, cx, move |guest, mut store| async move {
            match guest.call_metadata(store.cx()).await {
                Ok(m) => Output::Metadata(crate::call::Metadata {
                    name: m.name,
                    version: m.version,
                    description: m.description,
                    labels: m.labels,
                }),
                Err(e) => Output::from_error(e),
            }
        })
    }
}
