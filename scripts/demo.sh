#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds, and runs the demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/build.sh" release
echo
echo "==> demo: examples/engine-tour (real components under real limits)"
exec "$ROOT/build/release/examples/engine-tour/capsule-engine-tour" "$ROOT/build/release/components"
