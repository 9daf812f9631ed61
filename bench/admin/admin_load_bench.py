#!/usr/bin/env python3
"""Admin API under load: 50 concurrent clients with wrk (Debian's wrk), one table.

One `capsule run` with the admin API on loopback TCP (bearer token) and an HTTP trigger, so every
row is measured against the same process in the same run:
  trigger /static     the HTTP trigger's own plain answer (no component, no auth): what this
                      machine gives for a minimal HTTP round trip, the baseline of the ratios;
  GET  /v1/health     token check + a health snapshot of every instance;
  GET  /v1/ps         token check + the component table as JSON;
  POST /v1/call       token check + a request to guest/examples/echo.c and its reply.
Each at 1 and 50 connections (wrk keeps connections alive; the admin server serves 16 at once and
queues the rest; wrk's non-2xx and socket errors are printed as warnings). Also printed: the daemon's RSS before the load and its peak after it.
The hand-written server this replaced (commit 6d1b5d4^) is not measured: it served one
connection at a time and is no longer part of the tree.

Usage: bench/admin/admin_load_bench.py [--build build/release] [--duration 5]
"""
import argparse
import json
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "http"))
from servers import run_wrk  # noqa: E402  (wrk and its latency parsing, shared with the HTTP bench)

MANIFEST = """
[host]
name = "admin-bench"
data_dir = "{data}"
components_dir = "{components}"
admin = "127.0.0.1:0"

[[component]]
name = "bench/echo"
path = "echo.wasm"

[http]
listen = "127.0.0.1:0"
max_connections = 128

[[http.route]]
path = "/static"
static = "hello, world\\n"
"""

# wrk's Lua hook: every request of the run is this POST.
CALL_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"target": "bench/echo/0", "payload": "ping"}'
wrk.headers["Content-Type"] = "application/json"
"""

def rss_kib(pid, field):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build" / "release"))
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        manifest = tmp / "app.toml"
        manifest.write_text(MANIFEST.format(data=tmp / "data", components=build / "components"))
        script = tmp / "call.lua"
        script.write_text(CALL_SCRIPT)
        host = subprocess.Popen([str(build / "src" / "cli" / "capsule"), "run", str(manifest),
                                 "--log-format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        admin = trigger = None
        deadline = time.time() + 120
        while time.time() < deadline and not (admin and trigger):
            line = host.stdout.readline()
            if not line:
                break
            entry = json.loads(line)
            if entry.get("msg", "").startswith("admin TCP endpoint ready"):
                admin = entry["url"]
            if entry.get("msg") == "http trigger ready":
                trigger = entry["url"]
        if not (admin and trigger):
            host.kill()
            sys.exit("capsule run did not start its admin TCP endpoint and HTTP trigger")
        threading.Thread(target=lambda: [None for _ in host.stdout], daemon=True).start()
        auth = "Authorization: Bearer " + (tmp / "data" / "admin.token").read_text().strip()
        rows = [("trigger /static (baseline)", trigger + "/static", (), None),
                ("GET /v1/health", admin + "/v1/health", (auth,), None),
                ("GET /v1/ps", admin + "/v1/ps", (auth,), None),
                ("POST /v1/call (echo)", admin + "/v1/call", (auth,), str(script))]
        results = []
        try:
            for _, url, headers, lua in rows:  # warm-up (wrk warns on stderr about errors)
                run_wrk(url, 4, 1, headers, lua)
            rss_before = rss_kib(host.pid, "VmRSS")
            for connections in (1, 50):
                measured = [run_wrk(url, connections, args.duration, headers, lua)
                            for _, url, headers, lua in rows]
                base = measured[0][0]
                for (name, *_), (rps, p50, p99) in zip(rows, measured):
                    results.append((name, connections, rps, p50, p99, rps / base))
            rss_peak = rss_kib(host.pid, "VmHWM")
        finally:
            host.send_signal(signal.SIGTERM)
            host.wait(timeout=60)
    load = pathlib.Path("/proc/loadavg").read_text().split()[:3]
    print(f"Admin API, wrk {args.duration} s per row, {time.strftime('%Y-%m-%d')}, "
          f"load average {' '.join(load)}")
    print("| request | connections | req/s | p50 ms | p99 ms | req/s vs trigger /static |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, c, rps, p50, p99, ratio in results:
        print(f"| {name} | {c} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {ratio:.2f}x |")
    print(f"\ndaemon RSS before the load: {rss_before / 1024:.1f} MiB; peak (VmHWM) after it: "
          f"{rss_peak / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
