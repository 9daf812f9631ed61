#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds, and runs every test suite:
#   1. the actor runtime under ThreadSanitizer (preset tsan),
#   2. everything under AddressSanitizer + UBSan (preset asan),
#   3. everything in the release build (preset release) -- its ctest summary is the last line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$(date +%s)
"$ROOT/scripts/bootstrap.sh"

if [ -f src/rt/CMakeLists.txt ]; then
  "$ROOT/scripts/build.sh" tsan
  echo "==> actor runtime tests under TSan"
  ctest --preset tsan -j 2 --timeout 600
fi

"$ROOT/scripts/build.sh" asan
echo "==> all tests under ASan + UBSan"
ctest --preset asan -j 2 --timeout 900

"$ROOT/scripts/build.sh" release
echo "==> all tests (release), $(( $(date +%s) - START ))s since start"
# Last on purpose: ctest's summary line closes the output.
exec ctest --preset release -j 2 --timeout 900
