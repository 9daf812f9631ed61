#!/usr/bin/env bash
# Runs the Savina ports against capsule::rt and against CAF (the pinned 1.1.0 build of
# bench/rt/build_caf.sh), one after the other in the same run, and prints a table of ratios (CAF
# time / capsule time: above 1 means capsule is faster). Both sides use the same budget (64
# messages per actor turn). Builds nothing: scripts/bench.sh builds everything and runs these
# along with the other benchmarks.
#   bench/rt/run_savina.sh [build-dir] [iterations]
set -euo pipefail
build_dir=${1:-build/bench}
iterations=${2:-7}
bin="$build_dir/bench/rt"
programs=(ping_pong counting thread_ring fork_join_throughput fork_join_creation big chameneos)

median() {  # program-binary -> median ms
  "$1" --iterations "$iterations" | awk '/^RESULT/ { sub("median_ms=", "", $3); print $3 }'
}

printf '%-22s %12s %12s %8s\n' program capsule_ms caf_ms caf/capsule
for p in "${programs[@]}"; do
  if [[ ! -x "$bin/rt_savina_$p" ]]; then
    echo "missing $bin/rt_savina_$p (build with CAPSULE_BUILD_BENCH=ON)" >&2
    exit 1
  fi
  ours=$(median "$bin/rt_savina_$p")
  if [[ -x "$bin/caf_savina_$p" ]]; then
    theirs=$(median "$bin/caf_savina_$p")
    ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.2fx", a / b }')
  else
    theirs=n/a
    ratio=n/a
  fi
  printf '%-22s %12s %12s %8s\n' "$p" "$ours" "$theirs" "$ratio"
done
