//! `wasi:http/proxy` components (Spin and `wasmtime serve` style): wasi:http 0.2 on a linker of
//! their own, and one request handled as a resumable `capsule_call_t` like every other guest call
//! (polled by C++ with its waker, bounded by its fuel, epoch and wall-time limits).
//!
//! wasi-http's host functions reach their state through a getter on the store's data, which is
//! the C API's `WasmtimeStoreData` and has no room for it. The state of one instance
//! (`capsule_http_state_t`: the wasi-http context, the outgoing allow-list, the typed exports and
//! the last response) is owned by C++ next to the store, and each call made with it installs it
//! for the duration of every poll (`InState`); the getter reads it from there. wasi-http's host
//! functions are synchronous (`imports: trappable`), so they only ever run inside such a poll.
//!
//! A request's response is read while the guest runs (the body streams through a channel the
//! guest writes and this side drains), bounded by `max_response_bytes`: a larger one ends the
//! call. The call is done when both the guest's `handle` returned and the response is complete.
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::{Component, Linker};
use wasmtime_c_api::{
    wasmtime_component_linker_t, wasmtime_component_t, wasmtime_error_t, WasmtimeStoreContextMut,
    WasmtimeStoreData,
};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::exports::wasi::http::incoming_handler::Guest as IncomingHandler;
use wasmtime_wasi_http::p2::bindings::{LinkOptions, Proxy};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttp, WasiHttpCtx, WasiHttpCtxView};

use crate::call::{capsule_call_t, CallFuture, Output};
use crate::ffi::{capsule_bytes_t, ffi_guard};
use crate::http_outgoing::OutgoingPolicy;
use crate::lifecycle::{DetachedStore, FAILURE_INVALID_INPUT};

/// The response was larger than the instance's limit: the call was ended (src/wasm/shim.hpp).
/// Numbered apart from failure.rs's kinds so that new ones there cannot collide.
pub const FAILURE_RESPONSE_TOO_LARGE: u8 = 32;
/// `error` case index of wit/types.wit used for a guest's HTTP protocol faults (`internal`).
const GUEST_ERROR_INTERNAL: u8 = 8;

struct Collected {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// One proxy instance's wasi-http state; C++ owns it and keeps it alive, untouched, while a call
/// made with it is alive.
pub struct capsule_http_state_t {
    ctx: WasiHttpCtx,
    hooks: OutgoingPolicy,
    handler: Option<IncomingHandler>,
    max_response_bytes: usize,
    response: Option<Collected>,
}

thread_local! {
    static CURRENT: Cell<*mut capsule_http_state_t> = const { Cell::new(std::ptr::null_mut()) };
}

/// The getter wasi-http's host functions call: the polling call's state, the store's WASI table.
fn http_view(data: &mut WasmtimeStoreData) -> WasiHttpCtxView<'_> {
    let state = CURRENT.with(Cell::get);
    // A panic here fails the call (capsule_call_poll catches it); it cannot happen while every
    // call on the proxy linker is made through `in_state`.
    assert!(!state.is_null(), "wasi:http used outside a wasi:http/proxy call");
    // SAFETY: installed by `InState::poll` for this poll; C++ keeps the state alive and
    // untouched while the call is alive, and one poll at a time runs on a store.
    let state = unsafe { &mut *state };
    let table = wasmtime_wasi::WasiView::ctx(data).table;
    WasiHttpCtxView { ctx: &mut state.ctx, table, hooks: &mut state.hooks }
}

#[derive(Clone, Copy)]
struct StatePtr(*mut capsule_http_state_t);
// SAFETY: the state is used by whichever one thread polls the call, as the store is.
unsafe impl Send for StatePtr {}

/// Installs `state` as the current wasi-http state around every poll of `inner`.
struct InState {
    inner: CallFuture,
    state: StatePtr,
}

impl Future for InState {
    type Output = Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        /// Puts the previous state back however the poll ends (a panic is caught further up).
        struct Restore(*mut capsule_http_state_t);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(self.state.0)));
        self.inner.as_mut().poll(cx)
    }
}

fn in_state(state: StatePtr, inner: impl Future<Output = Output> + Send + 'static) -> *mut capsule_call_t {
    capsule_call_t::new(Box::pin(InState { inner: Box::pin(inner), state }))
}

fn boxed_error(text: &str) -> Option<Box<wasmtime_error_t>> {
    Some(Box::new(wasmtime_error_t::from(wasmtime::format_err!("{text}"))))
}

/// Adds wasi:http 0.2 (types and outgoing-handler) to a linker that already has WASI 0.2.
///
/// # Safety
/// `linker` is live and not shared with a running instantiation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_linker_add_wasi_http(
    linker: *mut wasmtime_component_linker_t,
) -> Option<Box<wasmtime_error_t>> {
    // SAFETY: wasmtime_component_linker_t is #[repr(transparent)] over this Linker.
    let linker = unsafe { &mut *(linker as *mut Linker<WasmtimeStoreData>) };
    ffi_guard(boxed_error("panic adding wasi:http"), || {
        use wasmtime_wasi_http::p2::bindings::http;
        let options = LinkOptions::default();
        http::outgoing_handler::add_to_linker::<_, WasiHttp>(linker, http_view)
            .and_then(|()| http::types::add_to_linker::<_, WasiHttp>(linker, &(&options).into(), http_view))
            .err()
            .map(|e| Box::new(wasmtime_error_t::from(e)))
    })
}

/// A new state: responses up to `max_response_bytes`, outgoing requests to the `n` host
/// patterns in `allowed` (src/http_outgoing.rs), none when `n` is 0. Null if a pattern is not
/// UTF-8.
///
/// # Safety
/// `allowed` points at `n` spans, valid for this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_state_new(
    max_response_bytes: u64,
    allowed: *const capsule_bytes_t,
    n: usize,
) -> *mut capsule_http_state_t {
    let raw = if n == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(allowed, n) } };
    let mut patterns = Vec::with_capacity(n);
    for p in raw {
        match unsafe { p.as_str() } {
            Ok(s) => patterns.push(s.to_string()),
            Err(_) => return std::ptr::null_mut(),
        }
    }
    ffi_guard(std::ptr::null_mut(), move || {
        Box::into_raw(Box::new(capsule_http_state_t {
            ctx: WasiHttpCtx::new(),
            hooks: OutgoingPolicy::new(patterns),
            handler: None,
            max_response_bytes: usize::try_from(max_response_bytes).unwrap_or(usize::MAX),
            response: None,
        }))
    })
}

/// # Safety
/// `state` came from `capsule_http_state_new`, and no call made with it is alive.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_state_delete(state: *mut capsule_http_state_t) {
    if !state.is_null() {
        let state = unsafe { Box::from_raw(state) };
        ffi_guard((), move || drop(state));
    }
}

/// Instantiates a wasi:http/proxy component and type-checks its `incoming-handler` export. Ready
/// with STATUS_OK: the state holds the typed export.
///
/// # Safety
/// `linker`, `component` and `state` outlive the call; the store is not touched until it is
/// ready.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_instantiate(
    linker: *const wasmtime_component_linker_t,
    cx: WasmtimeStoreContextMut<'_>,
    component: *const wasmtime_component_t,
    state: *mut capsule_http_state_t,
) -> *mut capsule_call_t {
    // SAFETY: both C API handles are #[repr(transparent)] over these Wasmtime types.
    let linker: &'static Linker<WasmtimeStoreData> = unsafe { &*(linker as *const _) };
    let component: &'static Component = unsafe { &*(component as *const Component) };
    let mut store = unsafe { DetachedStore::new(cx) };
    let state = StatePtr(state);
    ffi_guard(std::ptr::null_mut(), move || {
        in_state(state, async move {
            let state = state;
            match Proxy::instantiate_async(store.cx(), component, linker).await {
                Ok(proxy) => {
                    // SAFETY: see the function's contract.
                    unsafe { (*state.0).handler = Some(proxy.wasi_http_incoming_handler().clone()) };
                    Output::Unit
                }
                Err(e) => Output::from_error(e),
            }
        })
    })
}

#[repr(C)]
pub struct capsule_http_header_t {
    pub name: capsule_bytes_t,
    pub value: capsule_bytes_t,
}

#[repr(C)]
pub struct capsule_http_request_t {
    pub method: capsule_bytes_t,
    /// "http" or "https": what the guest reads as the request's scheme.
    pub scheme: capsule_bytes_t,
    pub authority: capsule_bytes_t,
    pub path_with_query: capsule_bytes_t,
    pub headers: *const capsule_http_header_t,
    pub header_count: usize,
    pub body: capsule_bytes_t,
}

fn invalid(what: String) -> *mut capsule_call_t {
    capsule_call_t::new(Box::pin(async move { Output::Failed(FAILURE_INVALID_INPUT, what) }))
}

/// The hyper request the guest will read; the body is copied once, into the request.
unsafe fn request_of(r: &capsule_http_request_t) -> Result<(Scheme, http::Request<Full<Bytes>>), String> {
    let text = |b: &capsule_bytes_t, what: &str| unsafe { b.as_str() }.map_err(|_| format!("the {what} is not UTF-8"));
    let scheme_text = text(&r.scheme, "scheme")?;
    let scheme = match scheme_text {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("unsupported scheme '{other}' (http or https)")),
    };
    let authority = text(&r.authority, "authority")?;
    let path = text(&r.path_with_query, "path")?;
    if !path.starts_with('/') {
        return Err(format!("the path '{path}' does not start with '/'"));
    }
    let mut builder = http::Request::builder()
        .method(unsafe { r.method.as_slice() })
        .uri(format!("{scheme_text}://{authority}{path}"));
    let headers = if r.header_count == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(r.headers, r.header_count) } };
    for h in headers {
        builder = builder.header(unsafe { h.name.as_slice() }, unsafe { h.value.as_slice() });
    }
    let body = Full::new(Bytes::copy_from_slice(unsafe { r.body.as_slice() }));
    builder.body(body).map(|req| (scheme, req)).map_err(|e| format!("invalid request: {e}"))
}

enum Collect {
    Done(Collected),
    /// The guest answered with a wasi:http `error-code` instead of a response.
    GuestCode(ErrorCode),
    /// The response-outparam was dropped unset.
    NoResponse,
    BodyFailed(String),
    TooLarge(usize),
}

/// Reads the response the guest sets, and its whole body up to `limit` bytes.
async fn collect(
    rx: tokio::sync::oneshot::Receiver<Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
    limit: usize,
) -> Collect {
    let response = match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(code)) => return Collect::GuestCode(code),
        Err(_) => return Collect::NoResponse,
    };
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > limit {
                        return Collect::TooLarge(bytes.len() + data.len());
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Err(e) => return Collect::BodyFailed(format!("{e:?}")),
        }
    }
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    Collect::Done(Collected { status: parts.status.as_u16(), headers, body: bytes })
}

fn guest_fault(text: String) -> Output {
    Output::GuestError(GUEST_ERROR_INTERNAL, text)
}

/// Runs the guest's `handle` and the response collection side by side (one task: the guest
/// writes the body into a channel that `collect` drains) until both are done, or one fails.
async fn drive(
    guest: impl Future<Output = wasmtime::Result<()>>,
    response: impl Future<Output = Collect>,
    state: StatePtr,
) -> Output {
    let mut guest = std::pin::pin!(guest);
    let mut response = std::pin::pin!(response);
    let mut guest_done = false;
    let mut collected: Option<Collect> = None;
    std::future::poll_fn(move |cx| {
        let state = state; // the whole Send wrapper, not its raw pointer field
        if !guest_done {
            match guest.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => guest_done = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Output::from_error(e)),
                Poll::Pending => {}
            }
        }
        if collected.is_none() {
            if let Poll::Ready(c) = response.as_mut().poll(cx) {
                collected = Some(c);
            }
        }
        let outcome = match collected.take() {
            Some(Collect::TooLarge(n)) => {
                // SAFETY: see capsule_http_handle's contract.
                let limit = unsafe { (*state.0).max_response_bytes };
                return Poll::Ready(Output::Failed(
                    FAILURE_RESPONSE_TOO_LARGE,
                    format!("its response body reached {n} bytes, over the limit of {limit} bytes"),
                ));
            }
            other => other,
        };
        if !guest_done {
            collected = outcome;
            return Poll::Pending;
        }
        // The guest has returned: nothing it could still write will arrive.
        Poll::Ready(match outcome {
            None => guest_fault(
                "it returned from handle with its response body unfinished (outgoing-body.finish \
                 was not called)"
                    .to_string(),
            ),
            Some(Collect::NoResponse) => {
                guest_fault("it returned from handle without setting a response".to_string())
            }
            Some(Collect::GuestCode(code)) => guest_fault(format!("it answered with error-code {code:?}")),
            Some(Collect::BodyFailed(why)) => guest_fault(format!("its response body failed: {why}")),
            Some(Collect::Done(c)) => {
                // SAFETY: see capsule_http_handle's contract.
                unsafe { (*state.0).response = Some(c) };
                Output::Unit
            }
            Some(Collect::TooLarge(_)) => unreachable!("handled above"),
        })
    })
    .await
}

/// Hands one request to the instance's `wasi:http/incoming-handler.handle`. Ready with STATUS_OK:
/// read the response with `capsule_http_response`; STATUS_GUEST_ERROR: the guest returned without
/// a usable response (the text says how); STATUS_FAILED: trap, limit, or
/// FAILURE_RESPONSE_TOO_LARGE.
///
/// # Safety
/// `state` was instantiated into this store; `state` and the store are not touched until the
/// call is ready or deleted. `request` and its spans are read before this returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_handle(
    state: *mut capsule_http_state_t,
    cx: WasmtimeStoreContextMut<'_>,
    request: *const capsule_http_request_t,
) -> *mut capsule_call_t {
    let (scheme, request) = match unsafe { request_of(&*request) } {
        Ok(r) => r,
        Err(why) => return invalid(why),
    };
    let mut store = unsafe { DetachedStore::new(cx) };
    let ptr = StatePtr(state);
    ffi_guard(std::ptr::null_mut(), move || {
        let s = unsafe { &mut *ptr.0 };
        s.response = None;
        s.hooks.clear_denied();
        let Some(handler) = s.handler.clone() else {
            return invalid("the instance was not instantiated".to_string());
        };
        let limit = s.max_response_bytes;
        in_state(ptr, async move {
            let ptr = ptr;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let resources = {
                let mut view = http_view(store.cx().data_mut());
                view.new_incoming_request(scheme, request)
                    .and_then(|req| Ok((req, view.new_response_outparam(tx)?)))
            };
            let (req, out) = match resources {
                Ok(r) => r,
                Err(e) => return Output::from_error(e),
            };
            let guest = handler.call_handle(store.cx(), req, out);
            drive(guest, collect(rx, limit), ptr).await
        })
    })
}

#[repr(C)]
pub struct capsule_http_response_t {
    pub status: u16,
    pub header_count: usize,
    pub body: capsule_bytes_t,
    /// Outgoing requests the allow-list denied during the call (`capsule_http_denied`).
    pub denied_count: usize,
}

/// The response of the last finished call; false when it produced none. Spans point into the
/// state and live until its next call or deletion.
///
/// # Safety
/// `state` is live, no call is in flight on it, `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_response(
    state: *const capsule_http_state_t,
    out: *mut capsule_http_response_t,
) -> bool {
    let s = unsafe { &*state };
    let denied_count = s.hooks.denied().len();
    let r = match &s.response {
        Some(c) => capsule_http_response_t {
            status: c.status,
            header_count: c.headers.len(),
            body: capsule_bytes_t::of(&c.body),
            denied_count,
        },
        None => capsule_http_response_t { status: 0, header_count: 0, body: capsule_bytes_t::EMPTY, denied_count },
    };
    unsafe { *out = r };
    s.response.is_some()
}

/// # Safety
/// As for `capsule_http_response`; `name` and `value` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_response_header(
    state: *const capsule_http_state_t,
    i: usize,
    name: *mut capsule_bytes_t,
    value: *mut capsule_bytes_t,
) -> bool {
    let s = unsafe { &*state };
    let Some((k, v)) = s.response.as_ref().and_then(|c| c.headers.get(i)) else { return false };
    unsafe {
        *name = capsule_bytes_t::of(k.as_bytes());
        *value = capsule_bytes_t::of(v);
    }
    true
}

/// The `i`th outgoing request denied during the last call: "<method> <scheme>://<authority>".
///
/// # Safety
/// As for `capsule_http_response`; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_denied(
    state: *const capsule_http_state_t,
    i: usize,
    out: *mut capsule_bytes_t,
) -> bool {
    let s = unsafe { &*state };
    let Some(d) = s.hooks.denied().get(i) else { return false };
    unsafe { *out = capsule_bytes_t::of(d.as_bytes()) };
    true
}

/// Outgoing requests denied over the instance's life.
///
/// # Safety
/// `state` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_http_denied_total(state: *const capsule_http_state_t) -> u64 {
    unsafe { (*state).hooks.denied_total() }
}
