//! A `std::task::Waker` made from a C callback. C++ hands over a reference-counted object (its
//! `retain`/`release` keep it alive while Rust or tokio still hold a clone), and `wake` may be
//! called from any thread: the reactor's when a timer fires, or the polling thread itself when
//! the guest yields at an epoch tick.
use std::ffi::c_void;
use std::sync::Arc;
use std::task::{Wake, Waker};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct capsule_waker_t {
    pub data: *mut c_void,
    /// Must be thread-safe and must not throw.
    pub wake: extern "C" fn(*mut c_void),
    /// Takes one more reference to `data`.
    pub retain: extern "C" fn(*mut c_void),
    /// Drops one reference to `data`.
    pub release: extern "C" fn(*mut c_void),
}

struct ForeignWaker(capsule_waker_t);

// SAFETY: the C++ side promises that `wake`, `retain` and `release` are thread-safe.
unsafe impl Send for ForeignWaker {}
unsafe impl Sync for ForeignWaker {}

impl Drop for ForeignWaker {
    fn drop(&mut self) {
        (self.0.release)(self.0.data);
    }
}

impl Wake for ForeignWaker {
    fn wake(self: Arc<Self>) {
        (self.0.wake)(self.0.data);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        (self.0.wake)(self.0.data);
    }
}

pub fn make_waker(c: &capsule_waker_t) -> Waker {
    (c.retain)(c.data);
    Waker::from(Arc::new(ForeignWaker(*c)))
}
