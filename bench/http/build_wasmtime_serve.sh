#!/usr/bin/env bash
# Builds `wasmtime serve` (crate wasmtime-cli, the same Wasmtime version capsule pins) from crates.io
# into ~/.cache/capsule/wasmtime-cli-48, for the HTTP trigger bench's comparison column only: it is
# not part of bootstrap.sh or test.sh (a cold build is long; see docs/benchmarks.md for the time).
# Idempotent: a present binary of the right version is reused. Prints the binary's path last.
#
#   bench/http/build_wasmtime_serve.sh [-j N]     (default -j 1: the build machines are shared)
set -euo pipefail

VERSION=48.0.8 # = wasmtime in third_party/wasmtime-capi/Cargo.lock
CACHE="${CAPSULE_CACHE:-$HOME/.cache/capsule}"
ROOT_DIR="$CACHE/wasmtime-cli-48"
TARGET_DIR="$CACHE/wasmtime-cli-48-target"
JOBS=1
if [ "${1:-}" = "-j" ] && [ -n "${2:-}" ]; then JOBS=$2; fi

bin="$ROOT_DIR/bin/wasmtime"
have=$("$bin" --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" = "$VERSION" ]; then
  echo "$bin"
  exit 0
fi

# The fewest features that give `serve` as upstream ships it: serve needs run (its RunCommon
# options), cranelift compiles the component, and pooling-allocator is what `wasmtime serve` uses by
# default when the address space allows. component-model-async too: 48.0.8's serve.rs uses
# `futures` and `ProxyPre::P3` unconditionally (without it: E0433/E0599 in serve.rs); it adds
# WASIp3 support, which a wasip2 component does not use. Left out (no effect on serving a
# wasi:http/proxy component): cache, parallel-compilation, wasi-nn/config/keyvalue/tls, debug,
# profiling, gc, winch, pulley, wast, objdump, explore, wizer, completion.
FEATURES=serve,run,cranelift,pooling-allocator,component-model-async

start=$(date +%s)
cargo install --locked --quiet --no-default-features --features "$FEATURES" \
  --root "$ROOT_DIR" --target-dir "$TARGET_DIR" -j "$JOBS" "wasmtime-cli@$VERSION" >&2
end=$(date +%s)
have=$("$bin" --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" != "$VERSION" ]; then
  echo "build_wasmtime_serve: $bin is not wasmtime $VERSION after the build" >&2
  exit 1
fi
echo "build_wasmtime_serve: wasmtime-cli $VERSION built in $((end - start)) s (-j $JOBS)" >&2
echo "$bin"
