#!/usr/bin/env python3
"""HTTP trigger throughput and latency with wrk (Debian's wrk, scripts/bootstrap.sh), one table.

One `capsule run` serves three routes from the same listener in the same run:
  /static   the host's own answer (a `static` route): the server's cost without any component,
            the baseline every other row is compared with;
  /c        guest/examples/hello.c (capsule:core, envelope "body");
  /py       guest/examples/python/hello/hello.py (componentize-py), when it was built;
  /c-proxy  guest/examples/http/http_hello.c, a wasi:http/proxy component (route `wasm = ...`);
  /py-proxy guest/examples/python/http_hello (componentize-py, wasi:http/proxy), when built.
Each is loaded at 1, 16 and 64 connections, the routes alternating within each level so that
they see the same machine. Printed: req/s, p50 and p99 latency (wrk --latency), and req/s as a
ratio to /static at the same level.

Usage: bench/http/http_trigger_bench.py [--build build/release] [--duration 5] [--instances 2]
"""
import argparse
import json
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]

MANIFEST = """
[host]
name = "http-bench"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "bench/hello"
path = "hello.wasm"
instances = {instances}
{python}
[http]
listen = "127.0.0.1:0"
max_connections = 128
keep_alive_timeout_ms = 10000

[[http.route]]
path = "/static"
static = "hello, world\\n"

[[http.route]]
path = "/c"
component = "bench/hello"
{python_route}"""

PYTHON = """
[[component]]
name = "bench/pyhello"
path = "py_hello.wasm"
instances = {instances}
"""

PROXY_ROUTE = """
[[http.route]]
path = "{path}"
wasm = "{components}/{file}"
instances = {instances}
memory = "32MiB"
"""

PYTHON_ROUTE = """
[[http.route]]
path = "/py"
component = "bench/pyhello"
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(url, connections, duration):
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                          url], capture_output=True, text=True, check=True,
                         timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors:
        print(f"warning: {url} c={connections}: " +
              (errors.group(0) if errors else "") + " " +
              (socket_errors.group(0) if socket_errors else ""), file=sys.stderr)
    return rps, p50, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build" / "release"))
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    components = build / "components"
    has_python = (components / "py_hello.wasm").exists()
    if not has_python:
        print("note: no py_hello.wasm (componentize-py not set up): no Python row", file=sys.stderr)
    proxies = [(path, file) for path, file in (("/c-proxy", "c_http_hello.wasm"),
                                                 ("/py-proxy", "py_http_hello.wasm"))
               if (components / file).exists()]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = pathlib.Path(tmp) / "app.toml"
        manifest.write_text(MANIFEST.format(
            components=components, instances=args.instances,
            python=PYTHON.format(instances=args.instances) if has_python else "",
            python_route=(PYTHON_ROUTE if has_python else "") + "".join(
                PROXY_ROUTE.format(path=path, components=components, file=file,
                                   instances=args.instances)
                for path, file in proxies)))
        host = subprocess.Popen([str(build / "src" / "cli" / "capsule"), "run", str(manifest),
                                 "--log-format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        base = None
        deadline = time.time() + 300  # cold compiles of Python components: ~20 s each
        while time.time() < deadline and base is None:
            line = host.stdout.readline()
            if not line:
                break
            entry = json.loads(line)
            if entry.get("msg") == "http trigger ready":
                base = entry["url"]
        if base is None:
            host.kill()
            sys.exit("capsule run did not start its HTTP trigger")
        # Keep reading its log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in host.stdout], daemon=True).start()
        routes = ["/static", "/c"] + (["/py"] if has_python else []) + [p for p, _ in proxies]
        try:
            for route in routes:  # every route answers, and warms up, before anything is timed
                for _ in range(20):
                    urllib.request.urlopen(base + route, timeout=10).read()
                run_wrk(base + route, 16, 1)
            rows = []
            for connections in (1, 16, 64):
                results = {r: run_wrk(base + r, connections, args.duration) for r in routes}
                for r in routes:
                    rps, p50, p99 = results[r]
                    rows.append((r, connections, rps, p50, p99, rps / results["/static"][0]))
        finally:
            host.send_signal(signal.SIGTERM)
            host.wait(timeout=60)
    print(f"HTTP trigger, wrk {args.duration} s per row, {args.instances} instance(s) per "
          f"component, {time.strftime('%Y-%m-%d')}")
    print("| route | connections | req/s | p50 ms | p99 ms | req/s vs static |")
    print("|---|---:|---:|---:|---:|---:|")
    names = {"/static": "static (host only)", "/c": "C hello", "/py": "Python hello",
             "/c-proxy": "C hello, wasi:http/proxy", "/py-proxy": "Python hello, wasi:http/proxy"}
    for r, c, rps, p50, p99, ratio in rows:
        print(f"| {names[r]} | {c} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
