#!/usr/bin/env python3
"""Two real `capsule run --cluster` host processes over a real nats-server on loopback: cross-host
request/reply and send through the CLI, a sent message that survives a NATS restart, and SIGKILL of
one host failing the other's pending request fast. Bounded in time; every child process is killed
on the way out."""
import argparse
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None

ALPHA = """
[host]
name = "alpha"
data_dir = "data-alpha"
components_dir = "{components}"

[[component]]
name = "demo/store"
path = "store.wasm"
"""

BETA = """
[host]
name = "beta"
data_dir = "data-beta"
components_dir = "{components}"

[[component]]
name = "demo/echo"
path = "echo.wasm"

[[component]]
name = "demo/ingest"
path = "relay.wasm"
  [component.config]
  mode = "forward"
  next = "demo/store/0"
  tag = "beta"
  [component.capabilities]
  "messaging.send" = ["demo/store/*"]

[[component]]
name = "demo/spin"
path = "spin.wasm"
  [component.limits]
  wall_time_ms = 20000
  fuel = 1000000000000

[grants."demo/ingest"]
"messaging.send" = ["demo/store/*"]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def capsule(*args, admin, check=True, timeout=40):
    env = dict(os.environ, CAPSULE_ADMIN=admin)
    r = subprocess.run([ARGS.capsule, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"capsule {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


class NatsServer:
    def __init__(self):
        self.port = free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen([ARGS.nats_server, "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepts():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        if not wait_for(accepts, 10):
            raise AssertionError("nats-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class HostProcess:
    def __init__(self, manifest, cluster):
        self.admin = f"127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen([ARGS.capsule, "run", str(manifest), "--admin", self.admin,
                                      "--cluster", cluster, "--log-format", "json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if json.loads(line).get("msg", "").startswith("ready:"):
                return
        self.kill()
        raise AssertionError("host did not become ready:\n" + "".join(self.lines))

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()


class ClusterEndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = pathlib.Path(self.tmp.name)
        (d / "alpha.toml").write_text(ALPHA.format(components=ARGS.components))
        (d / "beta.toml").write_text(BETA.format(components=ARGS.components))
        self.nats = NatsServer()
        self.hosts = []
        self.alpha = self.host(d / "alpha.toml")
        self.beta = self.host(d / "beta.toml")
        # alpha knows beta's components once a heartbeat arrived (announced at start).
        self.assertTrue(wait_for(lambda: self.call(self.alpha, "demo/echo/0", "hello", check=False).returncode == 0))

    def host(self, manifest):
        h = HostProcess(manifest, self.nats.url)
        self.hosts.append(h)
        return h

    def tearDown(self):
        for h in self.hosts:
            h.kill(signal.SIGTERM)
        self.nats.stop()
        self.tmp.cleanup()

    def call(self, host, target, text, check=True, timeout_ms=5000):
        return capsule("call", target, text, "--timeout-ms", str(timeout_ms), admin=host.admin, check=check)

    def count(self):
        return self.call(self.alpha, "demo/store/0", "count").stdout.strip()

    def test_request_reply_and_send_across_processes(self):
        self.assertEqual(self.call(self.alpha, "demo/echo/0", "ping-1").stdout.strip(), "ping-1")
        # beta's relay forwards to alpha's store: component -> component across processes.
        for i in range(5):
            capsule("send", "demo/ingest/0", f"r{i}", admin=self.beta.admin)
        self.assertTrue(wait_for(lambda: self.count() == "5"), self.count())
        self.assertEqual(self.call(self.alpha, "demo/store/0", "last").stdout.strip(), "r4|beta")
        ghost = self.call(self.alpha, "demo/ghost/0", "x", check=False)
        self.assertEqual(ghost.returncode, 1)
        self.assertIn("any host of cluster", ghost.stderr)

    def test_sigkill_of_a_host_fails_pending_requests_fast(self):
        pending = subprocess.Popen([ARGS.capsule, "call", "demo/spin/0", "hang", "--timeout-ms", "30000"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=dict(os.environ, CAPSULE_ADMIN=self.alpha.admin))
        try:
            time.sleep(0.5)  # the request is on beta, in the spin
            t0 = time.time()
            self.beta.kill(signal.SIGKILL)
            _, err = pending.communicate(timeout=20)
            elapsed = time.time() - t0
        finally:
            if pending.poll() is None:
                pending.kill()
                pending.wait(timeout=10)
        self.assertEqual(pending.returncode, 1)
        self.assertIn("host beta left the cluster", err)
        self.assertLess(elapsed, 8, "missed heartbeats (3 x 1 s), not the 30 s timeout, ended it")
        again = self.call(self.alpha, "demo/echo/0", "x", check=False)
        self.assertIn("not found", again.stderr)

    def test_nats_restart_loses_no_acknowledged_message(self):
        # beta's host sends straight to alpha's store. Every send that returned ok must arrive;
        # the ones refused while NATS is away or alpha is not yet heard from again are errors.
        acked = 0

        def send(text):
            nonlocal acked
            r = capsule("send", "demo/store/0", text, admin=self.beta.admin, check=False)
            if r.returncode == 0:
                acked += 1
            else:
                self.assertIn("unavailable", r.stderr)
            return r.returncode == 0

        self.assertTrue(send("before"))
        self.nats.stop()
        time.sleep(0.5)  # the clients notice the lost connection
        for i in range(5):
            self.assertFalse(send(f"during-{i}"))
        self.nats.start()
        self.assertTrue(wait_for(lambda: send("after"), 20))
        for i in range(5):
            send(f"after-{i}")
        self.assertTrue(wait_for(lambda: self.count() == str(acked), 10), f"{self.count()} != {acked}")
        self.assertGreaterEqual(acked, 7)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--capsule", required=True)
    parser.add_argument("--components", required=True)
    parser.add_argument("--nats-server", required=True)
    ARGS, rest = parser.parse_known_args()
    ARGS.components = str(pathlib.Path(ARGS.components).resolve())
    ARGS.capsule = str(pathlib.Path(ARGS.capsule).resolve())
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
