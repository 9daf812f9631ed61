"""Helpers shared by the end-to-end tests that drive the real `capsule` binary as child processes
(tests/e2e/*_test.py, tests/cluster/*_test.py, tests/install/install_test.py). Every wait is
bounded."""
import argparse
import http.client
import json
import pathlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

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
    """A port free now (for a listener that cannot take port 0 and say which it got: another
    process may take it before the caller binds it, so prefer "127.0.0.1:0" where it can)."""
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


def data_dir_with_cache(data_dir, cache_dir):
    """Creates a host's `data_dir` with its compile cache linked to `cache_dir` (when given), which
    outlives the run: the cache is keyed by content and engine, so only the first run after a
    change compiles the large Python and JavaScript components."""
    data_dir = pathlib.Path(data_dir)
    data_dir.mkdir()
    if cache_dir:
        pathlib.Path(cache_dir).mkdir(parents=True, exist_ok=True)
        (data_dir / "cache").symlink_to(pathlib.Path(cache_dir).resolve())
    return data_dir


def output_lines(log, component, stream):
    """The text of each `guest <stream>` line (stdout, stderr) of `component` in a host's log."""
    prefix = f"guest {stream}: "
    return [e["msg"][len(prefix):] for e in log
            if e.get("component") == component and e.get("msg", "").startswith(prefix)]


class HostProcess:
    """`capsule run <manifest> --log-format json` in a child process, returned once it printed
    its ready line (or failed within `ready_timeout` s, 60 by default, with its output in the error).

    The admin API is on the host's Unix socket (`self.admin`, what CLI calls use); with `tcp`
    ("127.0.0.1:0" for a free port) the host also serves it on loopback TCP (`self.tcp`, with
    the bearer token `self.token()`). Its output (stdout and stderr) is read by a thread for as
    long as it runs, into `self.lines` (`log()` parses them, `tail()` is for failure messages):
    a host that logs a lot never blocks on a full pipe, and a silent one cannot hang the wait."""

    def __init__(self, manifest, tcp=None, *extra, ready_timeout=60):
        self.proc = subprocess.Popen([CAPSULE, "run", str(manifest), *(["--admin", tcp] if tcp else []),
                                      "--log-format", "json", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.admin = self.tcp = None
        self._lock = threading.Lock()
        self._started = False
        self._ready = threading.Event()  # set on the ready line, or when the output ends
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(ready_timeout) or not self._started:
            self.kill()
            raise AssertionError(f"host did not become ready within {ready_timeout} s:\n"
                                 + "".join(self.lines))

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line)
            if self._started or not line.startswith("{"):
                continue
            msg = json.loads(line).get("msg", "")
            if msg == "admin endpoint ready":
                self.admin = json.loads(line)["socket"]
            elif msg.startswith("admin TCP endpoint ready"):
                self.tcp = json.loads(line)["url"].removeprefix("http://")
            elif msg.startswith("ready:"):
                self._started = True
                self._ready.set()
        self._ready.set()  # the host exited: stop waiting for it

    def log(self):
        """The JSON log lines so far, parsed."""
        with self._lock:
            lines = list(self.lines)
        return [json.loads(line) for line in lines if line.startswith("{")]

    def http_url(self):
        """The URL its HTTP trigger ([http]) listens on, as its ready line says."""
        return next(e["url"] for e in self.log() if e.get("msg") == "http trigger ready")

    def http_address(self):
        """(host, port) of its HTTP trigger, for http.client and raw sockets."""
        parsed = urllib.parse.urlparse(self.http_url())
        return parsed.hostname, parsed.port

    def wait_log(self, predicate, timeout=15):
        """The log entries that match `predicate` once there is one (none after `timeout` s)."""
        found = []

        def check():
            found[:] = [e for e in self.log() if predicate(e)]
            return bool(found)
        wait_for(check, timeout)
        return found

    def tail(self, n=40):
        """The last `n` lines of its output, for a failure message."""
        with self._lock:
            return "".join(self.lines[-n:])

    @property
    def data_dir(self):
        return pathlib.Path(self.admin).parent

    def token(self):
        return (self.data_dir / "admin.token").read_text().strip()

    def terminate(self, timeout=30):
        """SIGTERM, then the exit status once it has shut down (its remaining output is kept)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"host did not stop within {timeout} s of SIGTERM:\n" + self.tail())
        self._reader.join(timeout=10)
        return self.proc.returncode

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()

    def instances(self):
        ps = json.loads(capsule("ps", "--json", admin=self.admin).stdout)
        return [i["id"] for i in ps["instances"]]

    def hosts(self):
        return json.loads(capsule("hosts", "--json", admin=self.admin).stdout)

    def adopted(self):
        return [h for h in self.hosts()["hosts"] if h["self"]][0]["adopted"]


class GuestHostTest(unittest.TestCase):
    """Tests sharing one host of guest components that are slow to compile (Python, JavaScript),
    started once for the class by `start_host` (from the subclass's setUpClass) and reached by
    the CLI over loopback TCP, the way a remote operator reaches it."""

    @classmethod
    def start_host(cls, manifest_text, cache_dir, ready_timeout):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = pathlib.Path(cls.tmp.name)
        manifest = cls.dir / "app.toml"
        manifest.write_text(manifest_text)
        data = data_dir_with_cache(cls.dir / "data", cache_dir)
        cls.cli_args = ["--data-dir", str(data)]  # where the CLI finds the bearer token
        started = time.monotonic()
        cls.host = HostProcess(manifest, "127.0.0.1:0", ready_timeout=ready_timeout)
        cls.admin = cls.host.tcp
        print(f"host ready in {time.monotonic() - started:.1f} s", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.host.terminate()
        finally:
            cls.host.kill()
            cls.tmp.cleanup()
        assert code == 0, f"host exit status {code}:\n" + cls.host.tail()

    def call(self, target, payload, check=True):
        return capsule("call", *self.cli_args, target, payload, "--timeout-ms", "20000",
                       admin=self.admin, check=check, timeout=60)

    def wait_log(self, predicate, timeout=15):
        """The host's log entries that match `predicate`; fails the test if none comes."""
        found = self.host.wait_log(predicate, timeout)
        self.assertTrue(found, f"no such log line within {timeout} s; the host's last output:\n"
                        + self.host.tail())
        return found
