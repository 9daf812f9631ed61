#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds, and runs the demo: the pipeline app in
# examples/pipeline (ingest -> flaky transform -> store) driven through the capsule CLI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/build.sh" release
cd "$ROOT"
B="$ROOT/build/release/src/cli/capsule"
# The host's admin API is its Unix socket examples/pipeline/.capsule/admin.sock (mode 0600); the
# CLI finds it through the host's data dir.
export CAPSULE_DATA_DIR="$ROOT/examples/pipeline/.capsule"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "capsule inspect store.wasm   (what a component imports/exports, and whether this host runs it)"
"$B" inspect build/release/components/store.wasm

say "capsule run examples/pipeline/app.toml   (host in the background, admin on $CAPSULE_DATA_DIR/admin.sock)"
"$B" run examples/pipeline/app.toml &
HOST=$!
trap 'kill $HOST 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do "$B" ps >/dev/null 2>&1 && break; sleep 0.1; done

say "sending 20 readings to demo/ingest/0 (transform traps on every 7th: its supervisor restarts it)"
for i in $(seq 1 20); do "$B" send demo/ingest/0 "reading-$i"; done
for _ in $(seq 1 100); do [ "$("$B" call demo/store/0 count)" = "18" ] && break; sleep 0.05; done

say "capsule call demo/store/0 count / last   (request/reply queries)"
echo "stored: $("$B" call demo/store/0 count) items (2 poison messages were dropped with their trap, see the log)"
echo "last:   $("$B" call demo/store/0 last)"

say "capsule ps"
"$B" ps

say "capsule metrics | grep restarts"
"$B" metrics | grep -E '^capsule_instance_restarts_total|^capsule_requests_total'

say "capsule upgrade demo/transform transform.wasm   (hot swap, queued messages kept)"
"$B" upgrade demo/transform build/release/components/transform.wasm

say "SIGTERM: graceful shutdown"
kill -TERM $HOST
wait $HOST
trap - EXIT
if [ -f build/release/components/go_transform.wasm ] && [ -f build/release/components/py_store.wasm ]; then
  say "capsule run examples/pipeline/polyglot.toml   (the same pipeline in three languages: C -> Go -> Python)"
  export CAPSULE_DATA_DIR="$ROOT/examples/pipeline/.capsule-polyglot"
  "$B" run examples/pipeline/polyglot.toml &
  HOST=$!
  trap 'kill $HOST 2>/dev/null || true' EXIT
  # The first start compiles the Python store (~20 s); later ones load it from the cache.
  for _ in $(seq 1 1200); do "$B" ps >/dev/null 2>&1 && break; sleep 0.1; done
  for i in $(seq 1 20); do "$B" send demo/ingest/0 "reading-$i"; done
  for _ in $(seq 1 100); do [ "$("$B" call demo/store/0 count)" = "18" ] && break; sleep 0.05; done
  echo "stored by the Python stage: $("$B" call demo/store/0 count) items, uppercased by the Go stage, e.g.:"
  "$B" call demo/store/0 list | head -3
  kill -TERM $HOST
  wait $HOST
  trap - EXIT
else
  say "(the polyglot pipeline is skipped: its Go or Python components were not built)"
fi

say "demo complete (more: examples/engine-tour, docs/cli.md)"
