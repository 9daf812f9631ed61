#!/usr/bin/env python3
"""Gives the WASI preview1 adapter of a Go component memory of its own.

Usage: CapsuleGoArena.py <wasm-tools> <core.wasm from go build> <output core.wasm>

The adapter allocates its state and stack on its first WASI call through `cabi_realloc_adapter`
(or `memory.grow` when the module has none). The Go runtime makes that call while it starts,
before any Go export may run, and it treats all memory above its data as its own heap, so pages
the adapter grows would later be handed out by Go too. capsule's Go runtime package reserves an
array in Go's data for the adapter (guest/go/witrt/wit/runtime, `adapterArena`), marked by
"capsule-adapter-arena:<size>;". This script finds the marker in the module's data segments and
adds a bump allocator over the rest of that array, exported as `cabi_realloc_adapter`. Running
out of it traps (it is sized for the adapter's one state and one stack)."""
import re
import subprocess
import sys

MARKER = re.compile(rb"capsule-adapter-arena:(\d+);")


def leb128(data, pos, signed=False):
    """The LEB128 number at `pos` and the position after it."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, pos


def active_segments(module):
    """(memory offset, bytes) of every active data segment with a constant offset."""
    if module[:4] != b"\0asm":
        raise SystemExit("not a WebAssembly module")
    pos = 8
    while pos < len(module):
        section, pos = module[pos], pos + 1
        size, pos = leb128(module, pos)
        end = pos + size
        if section == 11:
            count, pos = leb128(module, pos)
            for _ in range(count):
                flags, pos = leb128(module, pos)
                if flags == 1:  # passive: no address
                    length, pos = leb128(module, pos)
                    pos += length
                    continue
                if flags == 2:
                    _, pos = leb128(module, pos)  # memory index
                if module[pos] != 0x41:  # i32.const
                    raise SystemExit("data segment offset is not an i32.const")
                offset, pos = leb128(module, pos + 1, signed=True)
                if module[pos] != 0x0B:
                    raise SystemExit("data segment offset expression is not one constant")
                length, pos = leb128(module, pos + 1)
                yield offset, module[pos:pos + length]
                pos += length
        pos = end


def arena(module):
    found = []
    for offset, data in active_segments(module):
        for match in MARKER.finditer(data):
            found.append((offset + match.start(), int(match.group(1)), len(match.group(0))))
    if len(found) != 1:
        raise SystemExit(f"expected one adapter arena marker in the Go module, found {len(found)}: "
                         "is guest/go/witrt linked in?")
    address, size, marker = found[0]
    start = (address + marker + 15) // 16 * 16
    return start, address + size


def main():
    wasm_tools, source, output = sys.argv[1:4]
    module = open(source, "rb").read()
    start, end = arena(module)
    text = subprocess.run([wasm_tools, "print", source], check=True, capture_output=True,
                          text=True).stdout
    allocator = f"""  (global $capsule_adapter_next (mut i32) (i32.const {start}))
  (func $capsule_adapter_realloc (param $old i32) (param $old_size i32) (param $align i32)
        (param $new_size i32) (result i32)
    (local $start i32) (local $end i32)
    ;; The adapter only ever asks for new blocks.
    (if (i32.ne (local.get $old) (i32.const 0)) (then unreachable))
    (local.set $start (i32.and (i32.add (global.get $capsule_adapter_next)
                                        (i32.sub (local.get $align) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $start) (local.get $new_size)))
    (if (i32.gt_u (local.get $end) (i32.const {end})) (then unreachable))
    (global.set $capsule_adapter_next (local.get $end))
    (local.get $start))
  (export "cabi_realloc_adapter" (func $capsule_adapter_realloc))
"""
    anchor = '  (export "memory" (memory 0))'
    if anchor not in text:
        raise SystemExit("the Go module exports no memory named `memory`")
    text = text.replace(anchor, allocator + anchor, 1)
    subprocess.run([wasm_tools, "parse", "-", "-o", output], input=text, check=True, text=True)


if __name__ == "__main__":
    main()
