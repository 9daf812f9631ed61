"""Helpers shared by the end-to-end tests that drive the real `capsule` binary as child processes
(tests/e2e/cli_e2e_test.py, tests/cluster/cluster_e2e_test.py). Every wait is bounded."""
import argparse
import http.client
import json
import pathlib
import os
import signal
import socket
import subprocess
import time

# Path of the capsule binary; each test script sets it from its command line.
CAPSULE = None


def parse_args(parser=None):
    """Parses --capsule and --components (and whatever `parser` adds) into absolute paths, points
    this module at the binary, and returns (args, the arguments left for unittest)."""
    global CAPSULE
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("--capsule", required=True)
    parser.add_argument("--components", required=True)
    args, rest = parser.parse_known_args()
    args.components = str(pathlib.Path(args.components).resolve())
    args.capsule = str(pathlib.Path(args.capsule).resolve())
    CAPSULE = args.capsule
    return args, rest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a host's admin socket (its path)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def capsule(*args, admin=None, check=True, timeout=40, env=None, cwd=None):
    """Runs one CLI command against the host at `admin` (its socket path, or host:port for its TCP
    listener); raises on failure when `check`. `env` adds environment variables."""
    full = {k: v for k, v in os.environ.items()  # the caller's shell must not pick the host
            if k not in ("CAPSULE_ADMIN", "CAPSULE_ADMIN_TOKEN", "CAPSULE_DATA_DIR")}
    full.update(env or {})
    if admin:
        full["CAPSULE_ADMIN"] = admin
    r = subprocess.run([CAPSULE, *args], capture_output=True, text=True, timeout=timeout, env=full,
                       cwd=cwd)
    if check and r.returncode != 0:
        raise AssertionError(f"capsule {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


class HostProcess:
    """`capsule run <manifest> --log-format json` in a child process, returned once it printed
    its ready line (or failed within `ready_timeout` s, 60 by default, with its output in the error).

    The admin API is on the host's Unix socket (`self.admin`, what CLI calls use); with `tcp`
    ("127.0.0.1:0" for a free port) the host also serves it on loopback TCP (`self.tcp`, with
    the bearer token `self.token()`)."""

    def __init__(self, manifest, tcp=None, *extra, ready_timeout=60):
        self.proc = subprocess.Popen([CAPSULE, "run", str(manifest), *(["--admin", tcp] if tcp else []),
                                      "--log-format", "json", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.admin = self.tcp = None
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            entry = json.loads(line)
            if entry.get("msg") == "admin endpoint ready":
                self.admin = entry["socket"]
            if entry.get("msg", "").startswith("admin TCP endpoint ready"):
                self.tcp = entry["url"].removeprefix("http://")
            if entry.get("msg", "").startswith("ready:"):
                return
        self.kill()
        raise AssertionError("host did not become ready:\n" + "".join(self.lines))

    @property
    def data_dir(self):
        return pathlib.Path(self.admin).parent

    def token(self):
        return (self.data_dir / "admin.token").read_text().strip()

    def terminate(self, timeout=30):
        """SIGTERM, then the exit status once it has shut down (its remaining output is kept)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=timeout)
        self.lines.extend(out.splitlines(keepends=True))
        return self.proc.returncode

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()

    def instances(self):
        ps = json.loads(capsule("ps", "--json", admin=self.admin).stdout)
        return [i["id"] for i in ps["instances"]]

    def hosts(self):
        return json.loads(capsule("hosts", "--json", admin=self.admin).stdout)

    def adopted(self):
        return [h for h in self.hosts()["hosts"] if h["self"]][0]["adopted"]
