//! The tokio runtime that WASI's async host functions (clocks, streams) register timers and I/O
//! with. It runs on its own small thread, never on the actor runtime's workers: guest calls are
//! polled by C++ inside `Reactor::enter`, and a timer that fires wakes the C++ waker.
use crate::ffi::ffi_guard;

pub struct capsule_reactor_t {
    runtime: tokio::runtime::Runtime,
}

impl capsule_reactor_t {
    pub fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.enter()
    }
}

/// Creates the reactor, or returns null when the runtime cannot be built (no threads left).
#[unsafe(no_mangle)]
pub extern "C" fn capsule_reactor_new() -> *mut capsule_reactor_t {
    ffi_guard(std::ptr::null_mut(), || {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .thread_name("capsule-reactor")
            .enable_all()
            .build()
        {
            Ok(runtime) => Box::into_raw(Box::new(capsule_reactor_t { runtime })),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// # Safety
/// `reactor` came from `capsule_reactor_new` and no call polled with it is still alive.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_reactor_delete(reactor: *mut capsule_reactor_t) {
    if reactor.is_null() {
        return;
    }
    ffi_guard((), || {
        let reactor = unsafe { Box::from_raw(reactor) };
        reactor.runtime.shutdown_background();
    })
}
