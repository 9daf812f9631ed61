#!/usr/bin/env bash
# Medians of 5 repetitions of every engine benchmark. Usage: bench/engine/run.sh [build dir]
set -euo pipefail
BUILD="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/release}"
exec "$BUILD/bench/engine/engine_bench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_display_aggregates_only=true "${@:2}"
