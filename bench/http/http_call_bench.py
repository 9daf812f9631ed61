#!/usr/bin/env python3
"""What one capsule:core call costs an HTTP request, with wrk (Debian's), one table.

One `capsule run` serves both rows from the same wasi:http/proxy route (guest/examples/http/
http_ask.c, `reuse = true`, the same instances), in the same run:
  no call     GET /ask/nocall: the handler answers 200 "no call" at once;
  one call    GET /ask?msg=hi: the handler calls app/echo (guest/examples/echo.c, a capsule:core
              component, `instances` instances) with messaging.call, waits for its reply and
              answers with it (200 "hi").
Both are loaded at 1 and 16 connections, alternating within each level so that they see the same
machine. Printed: req/s, p50 and p99 latency (wrk --latency), and the call's cost as ratios to the
no-call row at the same level (time per request = 1 / req/s, and p50).

Usage: bench/http/http_call_bench.py [--build build/release] [--duration 5] [--instances 2]
"""
import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from servers import Capsule, run_wrk, warm_up  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

MANIFEST = """
[host]
name = "http-call-bench"
data_dir = "{data}"
components_dir = "{components}"

[[component]]
name = "app/echo"
path = "echo.wasm"
instances = {instances}

[http]
listen = "127.0.0.1:0"
max_connections = 128
keep_alive_timeout_ms = 10000

[[http.route]]
path = "/ask"
wasm = "{components}/c_http_ask.wasm"
name = "web/ask"
instances = {instances}
  [http.route.capabilities]
  "messaging.request" = ["app/echo/*"]

[grants."web/ask"]
"messaging.request" = ["app/echo/*"]
"""

# (key, label, path): the baseline first.
TARGETS = [("none", "wasi:http handler, no call", "/ask/nocall"),
           ("call", "wasi:http handler + 1 messaging.call to app/echo", "/ask?msg=hi")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build" / "release"))
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    components = build / "components"
    started = " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as tmp:
        manifest = pathlib.Path(tmp) / "app.toml"
        manifest.write_text(MANIFEST.format(data=pathlib.Path(tmp) / "data",
                                            components=components, instances=args.instances))
        host = Capsule(build / "src" / "cli" / "capsule", manifest)
        try:
            for _, _, path in TARGETS:
                warm_up(host.base_url + path)
            rows = []
            for connections in (1, 16):
                results = {key: run_wrk(host.base_url + path, connections, args.duration)
                           for key, _, path in TARGETS}
                base = results["none"]
                for key, label, _ in TARGETS:
                    rps, p50, p99 = results[key]
                    rows.append((label, connections, rps, p50, p99, base[0] / rps, p50 / base[1]))
        finally:
            host.stop()
    ended = " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])
    print(f"HTTP request with and without one capsule:core call, wrk {args.duration} s per row, "
          f"pool of {args.instances} instance(s) per route and component, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {started} "
          f"(start) / {ended} (end)")
    print("| target | conns | req/s | p50 ms | p99 ms | time/req vs no call | p50 vs no call |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, c, rps, p50, p99, per_req, p50_ratio in rows:
        print(f"| {label} | {c} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {per_req:.2f}x | "
              f"{p50_ratio:.2f}x |")


if __name__ == "__main__":
    main()
