//! Typed calls of `capsule:core/lifecycle@0.1.0#handle-message` and `#handle-callback`.
//!
//! The C API only offers dynamic values: a `list<u8>` payload crosses it as one value per byte
//! (~0.1 us each way). These two functions call the same exports through Wasmtime's typed
//! component API instead (`TypedFunc` with derived `ComponentType`/`Lift`/`Lower`), so the
//! canonical ABI copies payload bytes in bulk. The record shapes below mirror wit/types.wit; the
//! types are checked against the component once per instance (`capsule_lifecycle_typecheck`).
#![allow(non_camel_case_types)]

use wasmtime_c_api::wasmtime;
use wasmtime_c_api::{wasmtime_error_t, WasmtimeStoreContextMut};
use wasmtime::component::{ComponentType, Func, Lift, Lower, TypedFunc};

#[derive(ComponentType, Lower)]
#[component(record)]
struct ComponentIdArg<'a> {
    namespace: &'a str,
    name: &'a str,
    instance: &'a str,
}

#[derive(ComponentType, Lower)]
#[component(record)]
struct PayloadArg<'a> {
    codec: u32,
    bytes: &'a [u8],
}

#[derive(ComponentType, Lower)]
#[component(record)]
struct MessageArg<'a> {
    sender: ComponentIdArg<'a>,
    payload: PayloadArg<'a>,
    correlation: Option<u64>,
    topic: Option<&'a str>,
}

#[derive(ComponentType, Lower)]
#[component(record)]
struct CallbackArg<'a> {
    correlation: u64,
    responder: ComponentIdArg<'a>,
    outcome: Result<PayloadArg<'a>, ErrorArg<'a>>,
}

#[derive(ComponentType, Lower)]
#[component(variant)]
enum ErrorArg<'a> {
    #[component(name = "invalid-argument")]
    InvalidArgument(&'a str),
    #[component(name = "not-found")]
    NotFound(&'a str),
    #[component(name = "permission-denied")]
    PermissionDenied(&'a str),
    #[component(name = "quota-exceeded")]
    QuotaExceeded(&'a str),
    #[component(name = "timeout")]
    Timeout(&'a str),
    #[component(name = "cancelled")]
    Cancelled(&'a str),
    #[component(name = "unavailable")]
    Unavailable(&'a str),
    #[component(name = "not-implemented")]
    NotImplemented(&'a str),
    #[component(name = "internal")]
    Internal(&'a str),
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct PayloadOut {
    codec: u32,
    bytes: Vec<u8>,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum ErrorOut {
    #[component(name = "invalid-argument")]
    InvalidArgument(String),
    #[component(name = "not-found")]
    NotFound(String),
    #[component(name = "permission-denied")]
    PermissionDenied(String),
    #[component(name = "quota-exceeded")]
    QuotaExceeded(String),
    #[component(name = "timeout")]
    Timeout(String),
    #[component(name = "cancelled")]
    Cancelled(String),
    #[component(name = "unavailable")]
    Unavailable(String),
    #[component(name = "not-implemented")]
    NotImplemented(String),
    #[component(name = "internal")]
    Internal(String),
}

impl ErrorOut {
    /// The case index in wit/types.wit's `error` variant, and its text.
    fn into_parts(self) -> (u8, String) {
        match self {
            ErrorOut::InvalidArgument(s) => (0, s),
            ErrorOut::NotFound(s) => (1, s),
            ErrorOut::PermissionDenied(s) => (2, s),
            ErrorOut::QuotaExceeded(s) => (3, s),
            ErrorOut::Timeout(s) => (4, s),
            ErrorOut::Cancelled(s) => (5, s),
            ErrorOut::Unavailable(s) => (6, s),
            ErrorOut::NotImplemented(s) => (7, s),
            ErrorOut::Internal(s) => (8, s),
        }
    }
}

fn error_arg(tag: u8, text: &str) -> ErrorArg<'_> {
    match tag {
        0 => ErrorArg::InvalidArgument(text),
        1 => ErrorArg::NotFound(text),
        2 => ErrorArg::PermissionDenied(text),
        3 => ErrorArg::QuotaExceeded(text),
        4 => ErrorArg::Timeout(text),
        5 => ErrorArg::Cancelled(text),
        6 => ErrorArg::Unavailable(text),
        7 => ErrorArg::NotImplemented(text),
        _ => ErrorArg::Internal(text),
    }
}

type MessageReturn = (Result<Option<PayloadOut>, ErrorOut>,);
type CallbackReturn = (Result<(), ErrorOut>,);

#[repr(C)]
pub struct capsule_bytes_t {
    ptr: *const u8,
    len: usize,
}

#[repr(C)]
pub struct capsule_id_t {
    ns: capsule_bytes_t,
    name: capsule_bytes_t,
    instance: capsule_bytes_t,
}

#[repr(C)]
pub struct capsule_message_t {
    sender: capsule_id_t,
    codec: u32,
    payload: capsule_bytes_t,
    has_correlation: bool,
    correlation: u64,
    has_topic: bool,
    topic: capsule_bytes_t,
}

#[repr(C)]
pub struct capsule_callback_t {
    correlation: u64,
    responder: capsule_id_t,
    is_ok: bool,
    codec: u32,
    payload: capsule_bytes_t,
    error_tag: u8,
    error_text: capsule_bytes_t,
}

/// What an export returned. `status`: 0 ok without payload, 1 ok with payload (codec, data),
/// 2 the guest's error (error_tag, data = UTF-8 text). `data` is owned by Rust: release it with
/// `capsule_outcome_free`.
#[repr(C)]
pub struct capsule_outcome_t {
    status: u8,
    codec: u32,
    error_tag: u8,
    data: *mut u8,
    len: usize,
    cap: usize,
}

unsafe fn bytes<'a>(b: &capsule_bytes_t) -> &'a [u8] {
    if b.len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(b.ptr, b.len) }
    }
}

unsafe fn text<'a>(b: &capsule_bytes_t) -> wasmtime::Result<&'a str> {
    std::str::from_utf8(unsafe { bytes(b) })
        .map_err(|_| wasmtime::format_err!("capsule host: string argument is not UTF-8"))
}

unsafe fn id<'a>(c: &capsule_id_t) -> wasmtime::Result<ComponentIdArg<'a>> {
    unsafe {
        Ok(ComponentIdArg { namespace: text(&c.ns)?, name: text(&c.name)?, instance: text(&c.instance)? })
    }
}

fn set_data(out: &mut capsule_outcome_t, data: Vec<u8>) {
    let mut data = std::mem::ManuallyDrop::new(data);
    out.data = data.as_mut_ptr();
    out.len = data.len();
    out.cap = data.capacity();
}

fn set_guest_error(out: &mut capsule_outcome_t, e: ErrorOut) {
    let (tag, text) = e.into_parts();
    out.status = 2;
    out.error_tag = tag;
    set_data(out, text.into_bytes());
}

fn to_c(r: wasmtime::Result<()>) -> Option<Box<wasmtime_error_t>> {
    r.err().map(|e| Box::new(wasmtime_error_t::from(e)))
}

/// Checks once per instance that the two exports have the types this module assumes.
#[unsafe(no_mangle)]
pub extern "C" fn capsule_lifecycle_typecheck(
    handle_message: &Func,
    handle_callback: &Func,
    cx: WasmtimeStoreContextMut<'_>,
) -> Option<Box<wasmtime_error_t>> {
    let check = || -> wasmtime::Result<()> {
        handle_message.typed::<(MessageArg<'_>,), MessageReturn>(&cx)?;
        handle_callback.typed::<(CallbackArg<'_>,), CallbackReturn>(&cx)?;
        Ok(())
    };
    to_c(check())
}

/// # Safety
/// `func` must be the instance's `handle-message` and must have passed
/// `capsule_lifecycle_typecheck`; every `capsule_bytes_t` in `msg` must be valid for reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_lifecycle_handle_message(
    func: &Func,
    mut cx: WasmtimeStoreContextMut<'_>,
    msg: &capsule_message_t,
    out: &mut capsule_outcome_t,
) -> Option<Box<wasmtime_error_t>> {
    *out = capsule_outcome_t { status: 0, codec: 0, error_tag: 0, data: std::ptr::null_mut(), len: 0, cap: 0 };
    let mut call = || -> wasmtime::Result<()> {
        let arg = unsafe {
            MessageArg {
                sender: id(&msg.sender)?,
                payload: PayloadArg { codec: msg.codec, bytes: bytes(&msg.payload) },
                correlation: msg.has_correlation.then_some(msg.correlation),
                topic: if msg.has_topic { Some(text(&msg.topic)?) } else { None },
            }
        };
        // SAFETY: the signature was verified by capsule_lifecycle_typecheck.
        let typed = unsafe { TypedFunc::<(MessageArg<'_>,), MessageReturn>::new_unchecked(*func) };
        let (result,) = typed.call(&mut cx, (arg,))?;
        match result {
            Ok(None) => out.status = 0,
            Ok(Some(p)) => {
                out.status = 1;
                out.codec = p.codec;
                set_data(out, p.bytes);
            }
            Err(e) => set_guest_error(out, e),
        }
        Ok(())
    };
    to_c(call())
}

/// # Safety
/// As for `capsule_lifecycle_handle_message`, with `func` the instance's `handle-callback`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_lifecycle_handle_callback(
    func: &Func,
    mut cx: WasmtimeStoreContextMut<'_>,
    cb: &capsule_callback_t,
    out: &mut capsule_outcome_t,
) -> Option<Box<wasmtime_error_t>> {
    *out = capsule_outcome_t { status: 0, codec: 0, error_tag: 0, data: std::ptr::null_mut(), len: 0, cap: 0 };
    let mut call = || -> wasmtime::Result<()> {
        let arg = unsafe {
            CallbackArg {
                correlation: cb.correlation,
                responder: id(&cb.responder)?,
                outcome: if cb.is_ok {
                    Ok(PayloadArg { codec: cb.codec, bytes: bytes(&cb.payload) })
                } else {
                    Err(error_arg(cb.error_tag, text(&cb.error_text)?))
                },
            }
        };
        // SAFETY: the signature was verified by capsule_lifecycle_typecheck.
        let typed = unsafe { TypedFunc::<(CallbackArg<'_>,), CallbackReturn>::new_unchecked(*func) };
        let (result,) = typed.call(&mut cx, (arg,))?;
        if let Err(e) = result {
            set_guest_error(out, e);
        }
        Ok(())
    };
    to_c(call())
}

/// Releases the buffer of an outcome filled by one of the calls above.
#[unsafe(no_mangle)]
pub extern "C" fn capsule_outcome_free(out: &mut capsule_outcome_t) {
    if !out.data.is_null() {
        drop(unsafe { Vec::from_raw_parts(out.data, out.len, out.cap) });
        out.data = std::ptr::null_mut();
        out.len = 0;
        out.cap = 0;
    }
}
