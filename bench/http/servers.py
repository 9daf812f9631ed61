"""The servers and the load tool of the HTTP trigger bench (http_trigger_bench.py): one
`capsule run` with every capsule route, `wasmtime serve` processes on the same component files,
and Debian's wrk with its latency distribution."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(url, connections, duration, headers=(), script=None):
    """(req/s, p50 ms, p99 ms) of `duration` seconds of keep-alive requests over `connections`:
    GETs, or what the wrk Lua `script` makes them; `headers` ("Name: value") on each."""
    threads = 1 if connections == 1 else 2
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True,
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


def warm_up(url):
    """The route answers 200, then one second of load: compiled, instantiated, connections made."""
    for _ in range(20):
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
    run_wrk(url, 16, 1)


def drain(stream):
    """Keeps reading a server's output so that it never blocks on a full pipe."""
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Capsule:
    """`capsule run` on a manifest; base_url once its HTTP trigger said it is ready."""

    def __init__(self, binary, manifest):
        self.proc = subprocess.Popen([str(binary), "run", str(manifest), "--log-format", "json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.base_url = None
        deadline = time.time() + 300  # cold compiles of Python components: ~20 s each
        while time.time() < deadline and self.base_url is None:
            line = self.proc.stdout.readline()
            if not line:
                break
            entry = json.loads(line)
            if entry.get("msg") == "http trigger ready":
                self.base_url = entry["url"]
        if self.base_url is None:
            self.stop()
            sys.exit("capsule run did not start its HTTP trigger")
        drain(self.proc.stdout)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


class WasmtimeServe:
    """`wasmtime serve` on one component, with `flags`; base_url once it is listening.

    -Scli links all of WASI (as capsule does), not only the proxy world's interfaces: the
    componentize-py component imports wasi:cli interfaces beyond them. It costs nothing per
    request (the linker is resolved once, at start)."""

    def __init__(self, binary, wasm, flags, worker_threads):
        """Starts it; wait_ready() waits until it listens (several compile at once that way)."""
        self.port = free_port()
        self.wasm = wasm
        env = dict(os.environ, TOKIO_WORKER_THREADS=str(worker_threads))
        self.proc = subprocess.Popen(
            [str(binary), "serve", "-Scli", "--addr", f"127.0.0.1:{self.port}", *flags, str(wasm)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.base_url = None

    def wait_ready(self):
        deadline = time.time() + 600  # no compile cache: a Python component compiles each start
        seen = []
        while time.time() < deadline and self.base_url is None:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("Serving HTTP on "):
                self.base_url = f"http://127.0.0.1:{self.port}"
        if self.base_url is None:
            sys.exit(f"wasmtime serve {self.wasm} did not start:\n" + "".join(seen[-20:]))
        drain(self.proc.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # its graceful shutdown is on ctrl-c
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
