//! Guest stdout and stderr, line by line, to the C++ host log.
//!
//! The WASI context of an instance gets one `GuestOutput` per stream. Writes are cut into lines
//! here and every complete line goes to the polling call's host (`capsule_host_vtable_t::output`),
//! which tags it with the instance's id and holds it to the component's log quota. A guest only
//! writes from inside a poll, so the host context is always the writing instance's own; a write
//! outside any poll has no one to tell and is dropped.
//!
//! Memory per stream is bounded: a line longer than `MAX_LINE_BYTES` is handed over cut (the host
//! says so) and the rest of it, up to its newline, is skipped.
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_c_api::{wasi_config_new, wasi_config_t, wasmtime_context_set_wasi, wasmtime_error_t, WasmtimeStoreContextMut};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime::AsContextMut;
use wasmtime_wasi::WasiCtxBuilder;

use crate::ffi::ffi_guard;

/// Longest line handed to the host; a longer one is cut there.
pub const MAX_LINE_BYTES: usize = 4096;

pub const STREAM_STDOUT: u8 = 1;
pub const STREAM_STDERR: u8 = 2;

/// The bytes of the line being written, not yet ended by a newline.
struct LineBuffer {
    stream: u8,
    pending: Vec<u8>,
    /// The current line was already handed over cut: skip to its newline.
    skipping: bool,
}

impl LineBuffer {
    fn write(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(u8, &[u8], bool)) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (part, rest) = match newline {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            if !self.skipping {
                let room = MAX_LINE_BYTES - self.pending.len();
                self.pending.extend_from_slice(&part[..part.len().min(room)]);
                if part.len() > room {
                    emit(self.stream, &self.pending, true);
                    self.pending.clear();
                    self.skipping = true;
                }
            }
            if newline.is_some() {
                if !self.skipping {
                    let line = self.pending.strip_suffix(b"\r").unwrap_or(&self.pending);
                    emit(self.stream, line, false);
                }
                self.pending.clear();
                self.skipping = false;
            }
            bytes = rest;
        }
    }
}

/// One guest output stream (stdout or stderr). Clones share the line being written: WASI hands
/// out a fresh stream handle for every `get-stdout`, and all of them are one stream.
#[derive(Clone)]
pub struct GuestOutput(Arc<Mutex<LineBuffer>>);

impl GuestOutput {
    pub fn new(stream: u8) -> GuestOutput {
        GuestOutput(Arc::new(Mutex::new(LineBuffer { stream, pending: Vec::new(), skipping: false })))
    }

    fn write_all(&self, bytes: &[u8]) {
        let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        buffer.write(bytes, &mut |stream, line, cut| crate::host::guest_output(stream, line, cut));
    }
}

impl IsTerminal for GuestOutput {
    /// Not a terminal: guest runtimes that buffer fully when they write to a pipe do so here too
    /// (see docs/writing-components.md: flush, or make stdout line-buffered).
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    /// WASIp2 (components): writes reach the host at once, inside the poll that made them. The
    /// default adapter would write from a background task, where no call's host is known.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_all(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Any size: every write is consumed at once (lines past the cap are cut, not queued).
        Ok(1 << 20)
    }
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.write_all(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Live WASI resource handles one instance may hold at once (wasi_keyvalue.rs names it in its
/// refusal).
pub const MAX_GUEST_HANDLES: usize = 16_384;

/// Gives the store a WASI context with no preopened dirs, env or args, whose stdout and stderr
/// go to the host log line by line (stdin is empty).
///
/// # Safety
/// `cx` is a live store context not used by a call in flight.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capsule_context_set_wasi(cx: WasmtimeStoreContextMut<'_>) -> Option<Box<wasmtime_error_t>> {
    ffi_guard(Some(Box::new(wasmtime_error_t::from(wasmtime::format_err!("panic configuring WASI")))), move || {
        let mut config: Box<wasi_config_t> = wasi_config_new();
        // SAFETY: wasi_config_t is `#[repr(C)] struct { builder: WasiCtxBuilder }` (one field, at
        // offset 0), from the same wasmtime-wasi version (Cargo.lock) as the type named here.
        let builder = unsafe { &mut *(&mut *config as *mut wasi_config_t as *mut WasiCtxBuilder) };
        builder.stdout(GuestOutput::new(STREAM_STDOUT));
        builder.stderr(GuestOutput::new(STREAM_STDERR));
        // Timers measured on the clock the guest reads (src/wasi_clock.rs).
        builder.monotonic_clock(crate::wasi_clock::HostMonotonic);
        let mut cx = cx;
        if let Some(e) = wasmtime_context_set_wasi(cx.as_context_mut(), config) {
            return Some(e);
        }
        // Every handle the guest holds (buckets, streams, pollables, ...) is a host allocation
        // that lives as long as the instance: a guest that opens them in a loop must meet a
        // limit far below Wasmtime's default of 1,000,000 per store.
        use wasmtime_wasi::WasiView;
        WasiView::ctx(cx.data_mut()).table.set_max_capacity(MAX_GUEST_HANDLES);
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut buffer = LineBuffer { stream: STREAM_STDOUT, pending: Vec::new(), skipping: false };
        let mut out = Vec::new();
        for c in chunks {
            buffer.write(c, &mut |_, line, cut| out.push((line.to_vec(), cut)));
        }
        out
    }

    #[test]
    fn lines_are_split_and_joined_across_writes() {
        let out = lines_of(&[b"a\nb", b"c\r\n", b"\n", b"tail"]);
        assert_eq!(out, vec![(b"a".to_vec(), false), (b"bc".to_vec(), false), (b"".to_vec(), false)]);
    }

    #[test]
    fn a_long_line_is_cut_once_and_the_next_line_is_whole() {
        let long = vec![b'x'; MAX_LINE_BYTES * 3];
        let out = lines_of(&[&long, &long, b"end\nnext\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.len(), MAX_LINE_BYTES);
        assert!(out[0].1);
        assert_eq!(out[1], (b"next".to_vec(), false));
    }

    #[test]
    fn a_line_of_exactly_the_cap_is_whole() {
        let mut line = vec![b'y'; MAX_LINE_BYTES];
        line.push(b'\n');
        let out = lines_of(&[&line]);
        assert_eq!(out, vec![(vec![b'y'; MAX_LINE_BYTES], false)]);
    }
}
