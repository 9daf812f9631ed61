//! One guest call in flight: a boxed future that C++ polls with its own waker until it is ready,
//! then reads the outcome from. Dropping the call drops the future, which unwinds the guest's
//! fiber: that is how a wall-time limit stops a guest that waits in a host call.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::ffi::c_void;

use crate::failure;
use crate::host::{capsule_host_vtable_t, CallHost, CallScope};
use crate::ffi::{capsule_bytes_t, ffi_guard};
use crate::lifecycle::capsule_exports_t;
use crate::reactor::capsule_reactor_t;
use crate::waker::{capsule_waker_t, make_waker};

pub struct Metadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub labels: Vec<(String, String)>,
}

pub enum Output {
    Instantiated(Box<capsule_exports_t>),
    Unit,
    Reply(Option<(u32, Vec<u8>)>),
    GuestError(u8, String),
    Health(u8),
    Metadata(Metadata),
    Failed(u8, String),
}

impl Output {
    pub fn from_error(err: wasmtime::Error) -> Output {
        Output::Failed(failure::classify(&err), failure::describe(&err))
    }
}

pub type CallFuture = Pin<Box<dyn Future<Output = Output> + Send + 'static>>;

pub struct capsule_call_t {
    future: Option<CallFuture>,
    output: Option<Output>,
    host: Option<CallHost>,
}

impl capsule_call_t {
    pub fn new(future: CallFuture) -> *mut capsule_call_t {
        Box::into_raw(Box::new(capsule_call_t { future: Some(future), output: None, host: None }))
    }
}

/// Names the host context the guest's imports reach while this call runs: `host` is passed to
/// every `vtable` function. Set once, before the first poll.
///
/// # Safety
/// `call` is live; `vtable` and `host` outlive it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_set_host(
    call: *mut capsule_call_t,
    vtable: *const capsule_host_vtable_t,
    host: *mut c_void,
) {
    unsafe { (*call).host = Some(CallHost { vtable, host }) };
}

pub const POLL_PENDING: u8 = 0;
pub const POLL_READY: u8 = 1;

/// Polls the call once. Ready means the outcome can be read; pending means `waker` will be woken
/// (from any thread) when polling again can make progress.
///
/// # Safety
/// `call` and `reactor` are live; the store the call runs in is not touched by anyone else until
/// the call is ready or deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_poll(
    call: *mut capsule_call_t,
    reactor: *const capsule_reactor_t,
    waker: *const capsule_waker_t,
) -> u8 {
    let call = unsafe { &mut *call };
    let Some(future) = call.future.as_mut() else {
        return POLL_READY;
    };
    let reactor = unsafe { &*reactor };
    let waker = make_waker(unsafe { &*waker });
    let host = call.host;
    let polled = ffi_guard(None, || {
        let _runtime = reactor.enter();
        let _host = host.map(CallScope::enter);
        let mut cx = Context::from_waker(&waker);
        Some(future.as_mut().poll(&mut cx))
    });
    match polled {
        Some(Poll::Pending) => POLL_PENDING,
        Some(Poll::Ready(output)) => {
            call.output = Some(output);
            call.future = None;
            POLL_READY
        }
        None => {
            // A panic inside Wasmtime or a host function: fail this call, keep the process.
            let dropped = std::mem::take(&mut call.future);
            ffi_guard((), move || drop(dropped));
            call.output = Some(Output::Failed(
                failure::FAILURE_HOST,
                "internal error: the engine panicked during this call".to_string(),
            ));
            POLL_READY
        }
    }
}

/// Drops the call, and with it a guest still suspended in it.
///
/// # Safety
/// `call` came from one of the `capsule_call_*` constructors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_delete(call: *mut capsule_call_t) {
    if call.is_null() {
        return;
    }
    let call = unsafe { Box::from_raw(call) };
    ffi_guard((), move || drop(call));
}

pub const STATUS_PENDING: u8 = 0;
pub const STATUS_OK: u8 = 1;
pub const STATUS_GUEST_ERROR: u8 = 2;
pub const STATUS_FAILED: u8 = 3;

/// What a ready call produced. Spans point into the call and live until it is deleted.
#[repr(C)]
pub struct capsule_call_result_t {
    pub status: u8,
    /// With STATUS_FAILED: a `failure::FAILURE_*` kind.
    pub failure: u8,
    /// With STATUS_GUEST_ERROR: the case index of wit/types.wit's `error`.
    pub error_tag: u8,
    /// For `health`: the case index of `health-status`.
    pub health: u8,
    pub has_payload: bool,
    pub codec: u32,
    /// The reply's bytes, the guest error's text or the failure's text.
    pub data: capsule_bytes_t,
}

/// # Safety
/// `call` is live and `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_result(
    call: *const capsule_call_t,
    out: *mut capsule_call_result_t,
) {
    let call = unsafe { &*call };
    let mut r = capsule_call_result_t {
        status: STATUS_PENDING,
        failure: 0,
        error_tag: 0,
        health: 0,
        has_payload: false,
        codec: 0,
        data: capsule_bytes_t::EMPTY,
    };
    match &call.output {
        None => {}
        Some(Output::Instantiated(_)) | Some(Output::Unit) | Some(Output::Metadata(_)) => {
            r.status = STATUS_OK
        }
        Some(Output::Reply(reply)) => {
            r.status = STATUS_OK;
            if let Some((codec, bytes)) = reply {
                r.has_payload = true;
                r.codec = *codec;
                r.data = capsule_bytes_t::of(bytes);
            }
        }
        Some(Output::Health(h)) => {
            r.status = STATUS_OK;
            r.health = *h;
        }
        Some(Output::GuestError(tag, text)) => {
            r.status = STATUS_GUEST_ERROR;
            r.error_tag = *tag;
            r.data = capsule_bytes_t::of(text.as_bytes());
        }
        Some(Output::Failed(kind, text)) => {
            r.status = STATUS_FAILED;
            r.failure = *kind;
            r.data = capsule_bytes_t::of(text.as_bytes());
        }
    }
    unsafe { *out = r };
}

#[repr(C)]
pub struct capsule_metadata_t {
    pub name: capsule_bytes_t,
    pub version: capsule_bytes_t,
    pub description: capsule_bytes_t,
    pub label_count: usize,
}

/// False unless the call was a finished `metadata`.
///
/// # Safety
/// `call` is live and `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_metadata(
    call: *const capsule_call_t,
    out: *mut capsule_metadata_t,
) -> bool {
    let call = unsafe { &*call };
    let Some(Output::Metadata(m)) = &call.output else {
        return false;
    };
    unsafe {
        *out = capsule_metadata_t {
            name: capsule_bytes_t::of(m.name.as_bytes()),
            version: capsule_bytes_t::of(m.version.as_bytes()),
            description: capsule_bytes_t::of(m.description.as_bytes()),
            label_count: m.labels.len(),
        }
    };
    true
}

/// # Safety
/// `call` is live, `i` < label_count, `key` and `value` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_metadata_label(
    call: *const capsule_call_t,
    i: usize,
    key: *mut capsule_bytes_t,
    value: *mut capsule_bytes_t,
) -> bool {
    let call = unsafe { &*call };
    let Some(Output::Metadata(m)) = &call.output else {
        return false;
    };
    let Some((k, v)) = m.labels.get(i) else {
        return false;
    };
    unsafe {
        *key = capsule_bytes_t::of(k.as_bytes());
        *value = capsule_bytes_t::of(v.as_bytes());
    }
    true
}

/// Takes the typed exports out of a finished instantiation (null for any other call, or once
/// taken). Release them with `capsule_exports_delete`.
///
/// # Safety
/// `call` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_call_take_exports(
    call: *mut capsule_call_t,
) -> *mut capsule_exports_t {
    let call = unsafe { &mut *call };
    match call.output.take() {
        Some(Output::Instantiated(exports)) => {
            call.output = Some(Output::Unit);
            Box::into_raw(exports)
        }
        other => {
            call.output = other;
            std::ptr::null_mut()
        }
    }
}
