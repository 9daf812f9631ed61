#!/usr/bin/env bash
# Builds what the benchmarks need and runs them, printing one Markdown table: every row says what
# it measures, capsule's figure, a baseline or peer measured in the same run (CAF for the Savina
# programs, the same operation without capsule's layer for the others) and their ratio, and, in
# its own column, the figure a design seed or goal claims (never used as a baseline).
#
#   scripts/bench.sh                      # build dir build/bench (preset `bench`)
#   BUILD_DIR=build/mine scripts/bench.sh # another build dir, same preset
#
# Steps: the pinned CAF release (bench/rt/build_caf.sh: built from source once, cached under
# ~/.cache/capsule/caf-<version>), configure + build preset `bench` (RelWithDebInfo, -O2 -g
# -DNDEBUG, the same flags CAF is built with; target capsule_bench), then the programs:
# the Savina ports against CAF alternately, rt_micro_bench, rt_seed_bench, component_bench,
# component_seed_bench. ~5 min on 2 cores after the first build.
#
# Environment: BUILD_DIR, JOBS (build parallelism, default nproc), SAVINA_ITERATIONS (timed
# iterations per Savina program and side, default 7; the median is reported), BUDGET (messages
# per actor turn on both sides of the Savina comparison, default 64).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build/bench}"
JOBS="${JOBS:-$(nproc)}"
SAVINA_ITERATIONS="${SAVINA_ITERATIONS:-7}"
BUDGET="${BUDGET:-64}"
log() { echo "bench.sh: $*" >&2; }

log "CAF peer (pinned, cached)"
caf_prefix=$(CAPSULE_BUILD_JOBS="$JOBS" bench/rt/build_caf.sh)
log "configure preset bench in $BUILD_DIR"
cmake --preset bench -B "$BUILD_DIR" -DCAPSULE_CAF_ROOT="$caf_prefix" >/dev/null
log "build target capsule_bench"
cmake --build "$BUILD_DIR" -j "$JOBS" --target capsule_bench >/dev/null
bin="$BUILD_DIR/bench"
components="$BUILD_DIR/components"
for p in rt/rt_micro_bench rt/rt_seed_bench rt/caf_savina_ping_pong component/component_bench \
  component/component_seed_bench; do
  [[ -x "$bin/$p" ]] || { log "missing $bin/$p after the build"; exit 1; }
done

# The fork-join programs must do their per-message work: g++ -O2 folded Savina's compute(37.2)
# into a constant on both sides until its input came from a volatile. Each side's handler must
# still call sin().
for side in rt caf; do
  for p in fork_join_throughput fork_join_creation; do
    calls=$(objdump -d --no-show-raw-insn "$bin/rt/${side}_savina_$p" |
      awk '/^[0-9a-f]+ <.*>:$/ { fn = $0 } /call.*<sin@plt>/ && fn !~ /<main>/ { n++ } END { print n + 0 }')
    [[ "$calls" -gt 0 ]] || { log "${side}_savina_$p: no call to sin() in a handler"; exit 1; }
  done
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if commit=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- src include bench || commit="$commit + uncommitted changes"
else
  commit="unknown (not a git checkout)"
fi
echo "# scripts/bench.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run;" \
  "$(g++ --version | head -1); RelWithDebInfo (-O2 -g -DNDEBUG) on both sides"
echo
echo "| what it measures | capsule | baseline (same run) | capsule/baseline | claim |"
echo "|---|---|---|---|---|"

# -- Savina: capsule::rt vs CAF, alternately per program --------------------------------------
median_of() {  # binary -> "median_ms" (CONFIG lines go to $out/config)
  local line
  line=$("$1" --iterations "$SAVINA_ITERATIONS" --budget "$BUDGET" | tee -a "$out/savina.log" |
    awk '/^RESULT/ { sub("median_ms=", "", $3); print $3 }')
  [[ -n "$line" ]] || { log "$1 printed no RESULT line"; exit 1; }
  echo "$line"
}
declare -A savina_label=(
  [ping_pong]="PingPong, 40k round trips"
  [counting]="Counting, 1M messages to one actor"
  [thread_ring]="ThreadRing, 100 actors, 100k hops"
  [fork_join_throughput]="Fork-join throughput, 60 actors x 10k messages, sin() per message"
  [fork_join_creation]="Fork-join creation, 40k actors, sin() each"
  [big]="Big, 120 actors x 20k pings"
  [chameneos]="Chameneos, 100 chameneos, 200k meetings"
)
for p in ping_pong counting thread_ring fork_join_throughput fork_join_creation big chameneos; do
  ours=$(median_of "$bin/rt/rt_savina_$p")
  theirs=$(median_of "$bin/rt/caf_savina_$p")
  awk -v what="Savina ${savina_label[$p]}: ms, median of $SAVINA_ITERATIONS" -v a="$ours" \
    -v b="$theirs" 'BEGIN { printf "| %s | %.1f ms | %.1f ms (CAF) | %.2fx | <= 0.50x (goal: 2x CAF) |\n",
                            what, a, b, a / b }'
done

# -- rt micro-benchmarks (Google Benchmark, JSON) -------------------------------------------------
"$bin/rt/rt_micro_bench" --benchmark_format=json --benchmark_out="$out/micro.json" \
  --benchmark_out_format=json >/dev/null 2>"$out/micro.err" ||
  { cat "$out/micro.err" >&2; exit 1; }
python3 - "$out/micro.json" <<'EOF'
import json, sys
rows = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
claims = {  # airssys-rt's published figures (its benches skip the scheduler) and issue goals
    "BM_Spawn/real_time": "< 200 ns (goal); airssys 625 ns (published)",
    "BM_PingPongRoundTrip/real_time": "airssys send/receive 737 ns (published)",
    "BM_BrokerPublish/10/real_time": "airssys broadcast to 10: 3.95 us per publish (published)",
    "BM_BrokerRoutingByName/real_time": "airssys broker routing 212 ns (published)",
    "BM_ThroughputExternalSenders/1/real_time": "> 20 M/s (goal)",
}
def fmt(v, unit):
    if unit.endswith("/s") and v >= 1e6: return f"{v / 1e6:.2f} M {unit}"
    if unit.endswith("/s") and v >= 1e4: return f"{v / 1e3:.0f} k {unit}"
    return f"{v:.0f} {unit}" if v >= 100 else f"{v:.1f} {unit}"
def value(b, counter, unit):
    v = b[counter]
    # Per-item counters (kIsRate | kInvert) are seconds per item in the JSON.
    return v * 1e9 if unit == "ns" else v
def row(name, counter, unit, extra="", suffix=""):
    b = rows.get(name)
    if b is None:
        return
    label = b.get("label", name)
    print(f"| rt {label}{extra} | {fmt(value(b, counter, unit), unit)}{suffix} | - | - |"
          f" {claims.get(name, '-')} |")
row("BM_Spawn/real_time", "ns_per_spawn", "ns")
row("BM_SpawnAndFirstMessage/real_time", "ns_per_actor", "ns")
row("BM_PingPongRoundTrip/real_time", "ns_per_roundtrip", "ns")
for n in (1, 10, 100):
    name = f"BM_BrokerPublish/{n}/real_time"
    if name in rows:
        b = rows[name]
        print(f"| rt {b['label']}, {n} subscriber(s): per publish |"
              f" {fmt(value(b, 'ns_per_publish', 'ns'), 'ns')} | - | - | {claims.get(name, '-')} |")
row("BM_BrokerRoutingByName/real_time", "ns_per_msg", "ns")
for kind, args in (("ActorSenders", (1, 2, 4)), ("ExternalSenders", (1, 2))):
    for n in args:
        name = f"BM_Throughput{kind}/{n}/real_time"
        if name in rows:
            share = rows[name]["consumed_while_sending"]
            row(name, "msgs_per_s", "msg/s",
                "; [x%]: share of the messages the sink processed while they were being sent",
                f" [{100 * share:.0f}%]")
row("BM_IdleActorMemory/iterations:1/real_time", "bytes_per_actor", "B")
EOF

# -- seed figures --------------------------------------------------------------------------------
"$bin/rt/rt_seed_bench" | grep '^| ' | grep -v '^| what it measures' || exit 1
"$bin/component/component_bench" "$components" | grep '^| ' | grep -v '^| what it measures' ||
  exit 1
"$bin/component/component_seed_bench" | grep '^| ' | grep -v '^| what it measures' || exit 1

echo
echo "Settings of the Savina comparison, as the programs printed them:"
grep '^CONFIG' "$out/savina.log" | sort -u | sed 's/^/  /'
echo "capsule/baseline: below 1 means capsule is faster for times, slower for rates."
