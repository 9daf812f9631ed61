#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release). Used by demo.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRESET="${1:-release}"
cd "$ROOT"
echo "==> configure + build preset '$PRESET'"
cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET" -j "$(nproc)"
