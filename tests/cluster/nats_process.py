"""A real nats-server on loopback for the cluster tests written in Python (cluster_e2e_test.py,
fault_test.py). The first start lets the server pick its port (`-p -1`, read back from its ports
file): choosing a free port first and passing it races with other tests under `ctest -j`.
Restarts reuse the port and the JetStream store, so hosts reconnect to the same URL and find
their data."""
import itertools
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


class NatsServer:
    def __init__(self, binary, store_dir=None, config=None, log_path=None, monitor=False):
        self.binary = binary
        self.monitor = monitor  # an HTTP monitoring port too, chosen by the server (-m -1)
        self.monitor_port = None
        self.store_dir = store_dir  # JetStream on, state kept here across restarts
        self.config = config  # a configuration file, e.g. from `capsule cluster init`
        self.log_path = log_path  # server output appended here; None: discarded
        self.ports_dir = tempfile.mkdtemp(prefix="nats-ports-")
        self.port = None
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def _read_port(self, kind="nats"):
        """A port from the running server's ports file ({"nats": ["nats://127.0.0.1:P"], ...}):
        kind "nats" for clients ("tls://" when the server requires TLS), "cluster" for routes,
        "monitoring" for HTTP. None while the server has not written it."""
        try:
            text = (pathlib.Path(self.ports_dir) / f"nats-server_{self.proc.pid}.ports").read_text()
        except OSError:
            return None
        at = text.find(f'"{kind}":[')
        marker = "://127.0.0.1:"
        at = text.find(marker, at) if at >= 0 else -1
        if at < 0:
            return None
        digits = "".join(itertools.takewhile(str.isdigit, text[at + len(marker):]))
        return int(digits) if digits else None

    def start(self):
        cmd = [self.binary, "-a", "127.0.0.1", "-p", str(self.port or -1),
               "--ports_file_dir", self.ports_dir]
        if self.store_dir:
            cmd += ["-js", "-sd", str(self.store_dir)]
        if self.config:
            cmd += ["-c", str(self.config)]
        if self.monitor:
            cmd += ["-m", str(self.monitor_port or -1)]
        if self.log_path:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        else:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepts():
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited ({self.proc.returncode})"
                                   + (f", see {self.log_path}" if self.log_path else ""))
            if self.port is None:
                self.port = self._read_port()
                if self.port is None:
                    return False
            if self.monitor and self.monitor_port is None:
                self.monitor_port = self._read_port("monitoring")
                if self.monitor_port is None:
                    return False
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        if not _wait_for(accepts, 15):
            raise RuntimeError("nats-server did not start")

    def kill(self):
        """A crash: SIGKILL, no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # a clean shutdown: JetStream flushes its store
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def close(self):
        self.stop()
        shutil.rmtree(self.ports_dir, ignore_errors=True)


class NatsCluster:
    """Three nats-servers clustered with routes, JetStream on each with its own store (n1, n2, n3),
    as a deployment runs JetStream: buckets made with replicas 3 keep a copy on every server.
    Every port is chosen by a server and read back. A clustered JetStream server will not start
    without a configured route, and the first cannot know the others' route ports: its first life
    routes to a placeholder socket this object listens on (never accepting) until close(), so no
    other server can take that port; n2 and n3 route to n1. Later starts route each server to the
    other two on their ports of the first life. `no_advertise`: clients use only the URLs they
    were given (a cut proxy is not bypassed through servers the others advertise)."""

    SIZE = 3

    def __init__(self, binary, workdir, log_dir=None):
        self.workdir = pathlib.Path(workdir)
        self.name = f"capsule_r3_{os.getpid()}_{id(self) & 0xffff}"
        self.placeholder = socket.socket()
        self.placeholder.bind(("127.0.0.1", 0))
        self.placeholder.listen(1)
        self.servers = []
        self.route_ports = []
        try:
            self._start(binary, log_dir)
        except Exception:
            self.close()  # no server outlives a cluster that did not form
            raise

    def _start(self, binary, log_dir):
        for i in range(self.SIZE):
            routes = [self.placeholder.getsockname()[1]] if i == 0 else [self.route_ports[0]]
            config = self.workdir / f"n{i + 1}.conf"
            config.write_text(self._config(i, -1, routes))
            store = self.workdir / f"jetstream-n{i + 1}"
            log = (pathlib.Path(log_dir) / f"nats-n{i + 1}.log") if log_dir else None
            server = NatsServer(binary, store_dir=store, config=config, log_path=log, monitor=True)
            self.servers.append(server)
            self.route_ports.append(server._read_port("cluster"))
        for i in range(self.SIZE):
            others = [p for j, p in enumerate(self.route_ports) if j != i]
            (self.workdir / f"n{i + 1}.conf").write_text(self._config(i, self.route_ports[i], others))
        if not _wait_for(lambda: self.meta_size() >= self.SIZE, 30):
            raise RuntimeError("the three nats-servers did not form a JetStream cluster in 30 s")

    def _config(self, i, listen, routes):
        lines = "".join(f"    nats-route://127.0.0.1:{p}\n" for p in routes)
        return (f"server_name: n{i + 1}\ncluster {{\n  name: {self.name}\n  listen: 127.0.0.1:{listen}\n"
                f"  no_advertise: true\n  routes: [\n{lines}  ]\n}}\n")

    @property
    def urls(self):
        return ",".join(s.url for s in self.servers)

    def alive(self, i):
        return self.servers[i].proc is not None and self.servers[i].proc.poll() is None

    def _jsz(self, i, query=""):
        port = self.servers[i].monitor_port
        if not port or not self.alive(i):
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/jsz{query}", timeout=2) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def meta_size(self):
        """Servers the JetStream meta group knows, as its leader's peers see it (0: no leader)."""
        for i in range(self.SIZE):
            jsz = self._jsz(i)
            meta = (jsz or {}).get("meta_cluster") or {}
            if meta.get("leader"):
                return int(meta.get("cluster_size", 0))
        return 0

    def leader_of(self, stream):
        """Index of the server leading `stream` as the live servers report it, None if none."""
        for i in range(self.SIZE):
            jsz = self._jsz(i, "?accounts=true&streams=true")
            for account in (jsz or {}).get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    leader = (detail.get("cluster") or {}).get("leader")
                    if detail.get("name") == stream and leader:
                        index = int(leader[1:]) - 1
                        if self.alive(index):
                            return index
        return None

    def close(self):
        for s in self.servers:
            s.close()
        self.placeholder.close()
