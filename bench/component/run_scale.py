#!/usr/bin/env python3
"""`capsule run` with N instances of the echo component, as a user runs it.

Measures, in one run: start-up time (process start to its ready line), the host's RSS with N
instances next to the same host with 1 instance (so RSS per idle instance excludes the shared
code, the compiled component and the runtime), and a call to every instance through the admin
endpoint (all must answer; p50/p99 per call, keep-alive HTTP, one client).

N = 100,000 needs vm.max_map_count above the Debian default (the host refuses with the sysctl to
run otherwise); --raise-map-limit sets it for this boot (root only).

usage: run_scale.py --capsule build/release/src/cli/capsule \
                    --components build/release/components [--instances 100000]
"""
import argparse
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time


def manifest(root, instances):
    path = pathlib.Path(root) / f"app-{instances}.toml"
    path.write_text(f"""
[host]
name = "scale"
data_dir = "{root}/data-{instances}"
components_dir = "{ARGS.components}"

[[component]]
name = "scale/echo"
path = "echo.wasm"
instances = {instances}
  [component.limits]
  memory = "1MiB"
""")
    return path


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Host:
    def __init__(self, root, instances, port):
        self.port = port
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [ARGS.capsule, "run", str(manifest(root, instances)), "--admin",
             f"127.0.0.1:{port}", "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        for line in self.proc.stdout:
            self.lines.append(line)
            if json.loads(line).get("msg", "").startswith("ready:"):
                self.start_s = time.monotonic() - t0
                token = (pathlib.Path(root) / f"data-{instances}" / "admin.token").read_text()
                self.auth = {"Authorization": f"Bearer {token.strip()}"}  # the TCP listener's
                return
        raise RuntimeError("host did not start:\n" + "".join(self.lines[-5:]))

    def stop(self):
        self.proc.terminate()
        self.proc.communicate(timeout=300)


def call_all(port, auth, instances, calls=None):
    """Calls instance i % instances for i in range(calls or instances)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    took, wrong = [], 0
    for n in range(calls or instances):
        i = n % instances
        body = json.dumps({"target": f"scale/echo/{i}", "payload": f"ping-{i}"}).encode()
        t0 = time.perf_counter()
        conn.request("POST", "/v1/call", body, {"Content-Type": "application/json", **auth})
        answer = conn.getresponse()
        reply = answer.read()
        took.append(time.perf_counter() - t0)
        if answer.status != 200 or f"ping-{i}".encode() not in reply:
            wrong += 1
    conn.close()
    took.sort()
    return wrong, took[len(took) // 2] * 1e6, took[int(len(took) * 0.99)] * 1e6


def main():
    if ARGS.raise_map_limit:
        need = ARGS.instances * 8 + 100_000
        limit = int(pathlib.Path("/proc/sys/vm/max_map_count").read_text())
        if limit < need:
            pathlib.Path("/proc/sys/vm/max_map_count").write_text(str(need))
    with tempfile.TemporaryDirectory() as root:
        one = Host(root, 1, 17301)
        rss_one = rss_kib(one.proc.pid)
        one_wrong, one_p50, _ = call_all(17301, one.auth, 1, calls=10_000)
        one.stop()
        big = Host(root, ARGS.instances, 17302)
        time.sleep(1)  # let start-up garbage settle
        rss_big = rss_kib(big.proc.pid)
        wrong, p50, p99 = call_all(17302, big.auth, ARGS.instances)
        rss_after = rss_kib(big.proc.pid)
        sized = [json.loads(l) for l in big.lines if "engine sized" in l][0]
        big.stop()
    per = (rss_big - rss_one) / (ARGS.instances - 1)
    per_after = (rss_after - rss_one) / (ARGS.instances - 1)
    print(f"capsule run, echo component (C), memory limit 1 MiB; engine: {sized['memory']}")
    print(f"{'row':58} {'value':>14}")
    print(f"{'start-up to ready, ' + format(ARGS.instances, ',') + ' instances':58} "
          f"{big.start_s:>12.2f} s")
    print(f"{'start-up to ready, 1 instance (same run)':58} {one.start_s:>12.2f} s")
    print(f"{'host RSS, 1 instance -> N instances idle':58} "
          f"{rss_one >> 10:>6} -> {rss_big >> 10} MiB")
    print(f"{'RSS per idle instance (N - 1 difference)':58} {per:>10.1f} KiB")
    print(f"{'RSS per instance after each answered one call':58} {per_after:>10.1f} KiB")
    print(f"{'instances that answered a call via the admin endpoint':58} "
          f"{ARGS.instances - wrong:>8,} / {ARGS.instances:,}")
    print(f"{'admin /v1/call p50 / p99 over N instances':58} {p50:>7.0f} / {p99:.0f} us")
    print(f"{'admin /v1/call p50, 1 instance called 10,000 times (same run)':58} "
          f"{one_p50:>7.0f} us")
    return 0 if wrong == 0 and one_wrong == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capsule", required=True)
    parser.add_argument("--components", required=True)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--raise-map-limit", action="store_true")
    ARGS = parser.parse_args()
    ARGS.components = os.path.abspath(ARGS.components)
    sys.exit(main())
