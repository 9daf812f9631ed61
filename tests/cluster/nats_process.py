"""A real nats-server on loopback for the cluster tests written in Python (cluster_e2e_test.py,
fault_test.py). The first start lets the server pick its port (`-p -1`, read back from its ports
file): choosing a free port first and passing it races with other tests under `ctest -j`.
Restarts reuse the port and the JetStream store, so hosts reconnect to the same URL and find
their data."""
import itertools
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


class NatsServer:
    def __init__(self, binary, store_dir=None, config=None, log_path=None):
        self.binary = binary
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

    def _read_port(self):
        try:
            text = (pathlib.Path(self.ports_dir) / f"nats-server_{self.proc.pid}.ports").read_text()
        except OSError:
            return None
        marker = "://127.0.0.1:"  # nats:// or, when the server requires TLS, tls://
        at = text.find(marker)
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
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        if not _wait_for(accepts, 15):
            raise RuntimeError("nats-server did not start")

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
