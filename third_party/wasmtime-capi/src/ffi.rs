//! Plain C shapes shared by the entry points, and the guard that keeps panics out of C++.
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A byte span owned by the other side.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct capsule_bytes_t {
    pub ptr: *const u8,
    pub len: usize,
}

impl capsule_bytes_t {
    pub const EMPTY: capsule_bytes_t = capsule_bytes_t { ptr: std::ptr::null(), len: 0 };

    pub fn of(bytes: &[u8]) -> capsule_bytes_t {
        capsule_bytes_t { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// # Safety
    /// `ptr` must be valid for `len` reads for as long as the slice is used.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(self.ptr, self.len) } }
    }

    /// # Safety
    /// As for `as_slice`.
    pub unsafe fn as_str<'a>(&self) -> Result<&'a str, std::str::Utf8Error> {
        std::str::from_utf8(unsafe { self.as_slice() })
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct capsule_id_t {
    pub ns: capsule_bytes_t,
    pub name: capsule_bytes_t,
    pub instance: capsule_bytes_t,
}

/// Runs `f`, turning a panic into `fallback`: with `panic = "abort"` a panic would end the
/// process, and without it unwinding into C++ is undefined behaviour. Both are worse.
pub fn ffi_guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
