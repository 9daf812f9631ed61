//! The monotonic clock a store's WASI context measures timers against: the same reading the guest
//! gets from `monotonic-clock.now` (linker.rs routes that through the host, `services.time`).
//!
//! Without it the two disagree: `now` answers the host's clock (steady time since boot), while
//! Wasmtime's default context clock starts at 0 when the context is made. A guest that sleeps
//! until an absolute instant (`subscribe-instant`; CPython's `time.sleep`, libc's
//! `clock_nanosleep(TIMER_ABSTIME)`) computes the instant from `now` and would wait for days.
use wasmtime_wasi::HostMonotonicClock;

pub struct HostMonotonic;

impl HostMonotonicClock for HostMonotonic {
    fn resolution(&self) -> u64 {
        1
    }
    /// Read inside a poll (timers are subscribed from guest code), where the host is known.
    fn now(&self) -> u64 {
        crate::host::monotonic_now_ns()
    }
}
