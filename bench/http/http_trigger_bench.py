#!/usr/bin/env python3
"""HTTP trigger throughput and latency with wrk (Debian's wrk, scripts/bootstrap.sh), one table.

One `capsule run` serves, from the same listener in the same run:
  /static     the host's own answer (a `static` route): the server's cost without any component,
              the baseline of the "vs static" column;
  /c, /py     guest/examples/hello.c and python/hello (capsule:core, envelope "body");
  /c-fresh, /py-fresh    c_http_hello / py_http_hello (wasi:http/proxy, route `wasm = ...`) with
              `reuse = false`: a fresh instance per request;
  /c-reuse, /py-reuse    the same files with `reuse = true`: an instance serves request after
              request.
With --wasmtime (bench/http/build_wasmtime_serve.sh builds it: long, cached), `wasmtime serve`
48.0.8 serves the same .wasm files, each in its own process:
  ws fresh    its default for a wasip2 component: an instance per request;
  ws reuse    --max-instance-reuse-count: instances reused, as capsule's `reuse = true`;
  ws fresh-fuel, ws reuse-fuel    the same with `-W fuel=10^18`: fuel metering on, as capsule
              always has it (every capsule instance runs with a fuel limit; wasmtime serve meters
              nothing by default, and metering costs an interpreter-heavy guest ~15-20%);
all with --max-concurrent-requests N and N tokio worker threads (N = --instances, capsule's
pool size and route threads), and
  ws default  no flags at all: unbounded concurrent requests (an instance each), tokio's
              worker-thread default (one per core).
Each is loaded at 1, 16 and 64 connections, the targets alternating within each level so that
they see the same machine. Printed: req/s, p50 and p99 latency (wrk --latency), req/s as a ratio
to /static at the same level and, for capsule's proxy routes, the time per request (1 / req/s)
and p50 as ratios to `wasmtime serve` in the same mode (fresh to fresh, reuse to reuse), and
the time per request against the same mode with fuel metering on: above 1.00x capsule is slower.

With --before BINARY a second `capsule run` (another build, e.g. the one before a change) serves
the same manifest and its proxy-route rows are measured in the same run, marked "(before)".

Usage: bench/http/http_trigger_bench.py [--build build/release] [--duration 5] [--instances 2]
                                        [--wasmtime [PATH]] [--before BINARY]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from servers import Capsule, WasmtimeServe, run_wrk, warm_up  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

MANIFEST = """
[host]
name = "http-bench"
data_dir = "{data}"
components_dir = "{components}"

{core_components}
[http]
listen = "127.0.0.1:0"
max_connections = 128
keep_alive_timeout_ms = 10000

[[http.route]]
path = "/static"
static = "hello, world\\n"
{routes}"""

CORE_COMPONENT = """
[[component]]
name = "bench/{name}"
path = "{file}"
instances = {instances}
"""

CORE_ROUTE = """
[[http.route]]
path = "{path}"
component = "bench/{name}"
"""

PROXY_ROUTE = """
[[http.route]]
path = "{path}"
wasm = "{components}/{file}"
instances = {instances}
reuse = {reuse}
memory = "32MiB"
"""

# (language, capsule:core hello, wasi:http/proxy hello)
LANGUAGES = [("C", "hello.wasm", "c_http_hello.wasm"), ("Python", "py_hello.wasm",
                                                         "py_http_hello.wasm")]


def plan(components, instances):
    """The manifest's core components and routes, and the capsule targets: (key, label, path)."""
    core, routes, targets = [], [], [("static", "capsule static (host only)", "/static")]
    for lang, core_file, proxy_file in LANGUAGES:
        short = "c" if lang == "C" else "py"
        if (components / core_file).exists():
            core.append(CORE_COMPONENT.format(name=short, file=core_file, instances=instances))
            routes.append(CORE_ROUTE.format(path=f"/{short}", name=short))
            targets.append((f"{short} core", f"{lang} capsule:core route", f"/{short}"))
        else:
            print(f"note: no {core_file}: no {lang} capsule:core row", file=sys.stderr)
        if not (components / proxy_file).exists():
            print(f"note: no {proxy_file}: no {lang} wasi:http rows", file=sys.stderr)
            continue
        for mode, reuse in (("fresh", "false"), ("reuse", "true")):
            routes.append(PROXY_ROUTE.format(path=f"/{short}-{mode}", components=components,
                                             file=proxy_file, instances=instances, reuse=reuse))
            targets.append((f"{short} {mode}", f"{lang} capsule proxy route, reuse={reuse}",
                            f"/{short}-{mode}"))
    return "".join(core), "".join(routes), targets


def start_wasmtime_servers(binary, components, instances, servers):
    """Appends (key, label, server) for every `wasmtime serve` process of the run to `servers`
    (as each starts: the caller stops those that did if a later one fails)."""
    bounded = ["--max-concurrent-requests", str(instances)]
    reuse = ["--max-instance-reuse-count", "1000000000"]
    fuel = ["-W", f"fuel={10**18}"]  # never runs out: metering on, no limit reached
    for lang, _, proxy_file in LANGUAGES:
        wasm = components / proxy_file
        if not wasm.exists():
            continue
        short = "c" if lang == "C" else "py"
        for mode, flags, threads in (
                ("fresh", bounded, instances),
                ("fresh-fuel", bounded + fuel, instances),
                ("reuse", bounded + reuse, instances),
                ("reuse-fuel", bounded + reuse + fuel, instances),
                ("default", [], os.cpu_count())):
            servers.append((f"{short} ws {mode}", f"{lang} wasmtime serve, {mode}",
                            WasmtimeServe(binary, wasm, flags, threads)))


def display_order(key):
    """Rows of one level: static, then per language core, fresh, reuse, default, and within
    each mode capsule, capsule before, wasmtime serve ("c ws fresh", "py reuse before")."""
    if key == "static":
        return (0,)
    words = key.split()
    mode = next(w for w in words[1:] if w != "ws")
    return (1 if words[0] == "c" else 2,
            ["core", "fresh", "fresh-fuel", "reuse", "reuse-fuel", "default"].index(mode),
            2 if "ws" in words else 1 if "before" in words else 0)


def load_average():
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def print_table(args, rows, started, ended, wasmtime):
    print(f"HTTP trigger, wrk {args.duration} s per row, pool of {args.instances} instance(s) "
          f"per capsule component and route" +
          (f" and {args.instances} concurrent requests / tokio threads per bounded wasmtime serve"
           if wasmtime else "") +
          f", {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{started} (start) / {ended} (end)")
    print("| target | conns | req/s | p50 ms | p99 ms | req/s vs static | "
          "time/req vs wasmtime serve | p50 vs wasmtime serve | time/req vs wasmtime serve + fuel |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, c, rps, p50, p99, vs_static, vs_ws, vs_fuel in rows:
        ws = f"{vs_ws[0]:.2f}x | {vs_ws[1]:.2f}x" if vs_ws else " | "
        wsf = f"{vs_fuel:.2f}x" if vs_fuel else ""
        print(f"| {label} | {c} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {vs_static:.2f}x | {ws} | "
              f"{wsf} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build" / "release"))
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--before", help="another capsule binary (e.g. the one before a change): "
                        "its proxy-route rows are measured in the same run")
    parser.add_argument("--wasmtime", nargs="?", const="build", default=None,
                        help="compare with `wasmtime serve`: its binary, or none to build it "
                             "with bench/http/build_wasmtime_serve.sh (cached)")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    components = build / "components"
    wasmtime = args.wasmtime
    if wasmtime == "build":
        wasmtime = subprocess.run([str(ROOT / "bench/http/build_wasmtime_serve.sh")], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    core, routes, targets = plan(components, args.instances)
    started = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        manifests = []
        for name in ("now", "before"):
            # A data directory each (admin socket, ...), kept in the build directory from run to
            # run: it holds the compile cache, and a componentize-py component takes ~20-80 s
            # to compile (more under load).
            data = build / "http-bench" / name
            data.mkdir(parents=True, exist_ok=True)
            manifests.append(pathlib.Path(tmp) / f"{name}.toml")
            manifests[-1].write_text(MANIFEST.format(data=data, components=components,
                                                     core_components=core, routes=routes))
        servers, hosts = [], []
        try:
            if wasmtime:  # first: with no compile cache, it compiles while capsule starts
                start_wasmtime_servers(wasmtime, components, args.instances, servers)
            hosts.append(Capsule(build / "src" / "cli" / "capsule", manifests[0]))
            urls = {key: (label, hosts[0].base_url + path) for key, label, path in targets}
            if args.before:  # the proxy routes again, served by the binary before a change
                hosts.append(Capsule(args.before, manifests[1]))
                urls.update({f"{key} before": (f"{label} (before)", hosts[1].base_url + path)
                             for key, label, path in targets if key.endswith(("fresh", "reuse"))})
            for key, label, server in servers:
                server.wait_ready()
                urls[key] = (label, server.base_url + "/")
            for _, url in urls.values():  # everything answers, and is warm, before any timing
                warm_up(url)
            rows = []
            for connections in (1, 16, 64):
                results = {key: run_wrk(url, connections, args.duration)
                           for key, (_, url) in urls.items()}
                for key in sorted(urls, key=display_order):
                    label = urls[key][0]
                    rps, p50, p99 = results[key]
                    # "c fresh" (and "c fresh before") pairs with "c ws fresh", "c reuse" with
                    # "c ws reuse".
                    words = key.split()
                    ws = results.get(f"{words[0]} ws {words[1]}") if len(words) > 1 and \
                        words[1] in ("fresh", "reuse") else None
                    vs_ws = (ws[0] / rps, p50 / ws[1]) if ws else None
                    wsf = results.get(f"{words[0]} ws {words[1]}-fuel") if ws else None
                    rows.append((label, connections, rps, p50, p99,
                                 rps / results["static"][0], vs_ws,
                                 wsf[0] / rps if wsf else None))
        finally:
            for _, _, s in servers:
                s.stop()
            for host in hosts:
                host.stop()
    print_table(args, rows, started, load_average(), wasmtime)


if __name__ == "__main__":
    main()
