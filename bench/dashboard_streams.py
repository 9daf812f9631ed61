#!/usr/bin/env python3
"""What the dashboard costs a running host (docs/cli.md, "Dashboard"): GET /v1/dashboard latency,
and the daemon's CPU over 10 s with no event stream open (the baseline, same run) and with the
maximum of 8 open. Usage:
  python3 bench/dashboard_streams.py --capsule build/release/src/cli/capsule \\
      --components build/release/components"""
import os
import pathlib
import socket
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "e2e"))
import capsule_process  # noqa: E402
from capsule_process import HostProcess  # noqa: E402

MANIFEST = """[host]
name = "dashboard-bench"
components_dir = "{components}"

[[component]]
name = "demo/echo"
path = "echo.wasm"
instances = 8
"""


def main():
    args, _ = capsule_process.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = pathlib.Path(tmp) / "app.toml"
        manifest.write_text(MANIFEST.format(components=args.components))
        host = HostProcess(manifest, "127.0.0.1:0")
        try:
            run(host)
        finally:
            host.terminate()


def run(host):
    port = int(host.tcp.rsplit(":", 1)[1])
    head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {host.token()}\r\n"

    def cpu_seconds():
        fields = pathlib.Path(f"/proc/{host.proc.pid}/stat").read_text().split(")")[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def get(path):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode())
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        return reply.partition(b"\r\n\r\n")[2]

    get("/v1/dashboard")
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        body = get("/v1/dashboard")
    ms = (time.perf_counter() - t0) / n * 1000
    print(f"GET /v1/dashboard: {ms:.2f} ms each over {n} ({len(body)} bytes, 8 instances)")
    for streams in (0, 8):
        socks = []
        for _ in range(streams):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET /v1/events HTTP/1.1\r\n{head}\r\n".encode())
            socks.append(s)
        time.sleep(1)
        c0 = cpu_seconds()
        time.sleep(10)
        used = cpu_seconds() - c0
        print(f"daemon CPU with {streams} event streams open: {used / 10 * 100:.2f}% of a core over 10 s")
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
