#!/usr/bin/env python3
"""Real `capsule run --cluster` host processes over a real nats-server on loopback.

ClusterEndToEnd (two hosts): cross-host request/reply and send through the CLI, a sent message
that survives a NATS restart, and SIGKILL of one host failing the other's pending request fast.

FailoverEndToEnd (three hosts sharing one manifest, state in JetStream KV): placement on host
groups, SIGKILL of the primary, adoption by the lowest-named standby with the balance intact, and
hand-back when the primary returns.

Bounded in time; every child process is killed on the way out."""
import argparse
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "e2e"))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nats_process  # noqa: E402

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

# One manifest for the whole cluster: each host process picks its name, groups and data dir on
# the command line.
BANK = """
[host]
components_dir = "{components}"
storage_backend = "nats-kv"
kv_bucket = "bank_e2e"

[[component]]
name = "bank/ledger"
path = "ledger.wasm"
  [component.placement]
  groups = ["primary"]
  failover = ["standby"]
  [component.capabilities]
  "storage.read" = ["**"]
  "storage.write" = ["**"]

[[component]]
name = "bank/cache"
path = "echo.wasm"
  [component.placement]
  groups = ["primary"]

[[component]]
name = "bank/echo"
path = "echo.wasm"

[grants."bank/ledger"]
"storage.read" = ["**"]
"storage.write" = ["**"]
"""


class ClusterEndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = pathlib.Path(self.tmp.name)
        (d / "alpha.toml").write_text(ALPHA.format(components=ARGS.components))
        (d / "beta.toml").write_text(BETA.format(components=ARGS.components))
        self.nats = nats_process.NatsServer(ARGS.nats_server)
        self.hosts = []
        self.alpha = self.host(d / "alpha.toml")
        self.beta = self.host(d / "beta.toml")
        # alpha knows beta's components once a heartbeat arrived (announced at start).
        self.assertTrue(wait_for(lambda: self.call(self.alpha, "demo/echo/0", "hello", check=False).returncode == 0))

    def host(self, manifest):
        h = HostProcess(manifest, None, "--cluster", self.nats.url)
        self.hosts.append(h)
        return h

    def tearDown(self):
        for h in self.hosts:
            h.kill(signal.SIGTERM)
        self.nats.close()
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


class AuthenticatedClusterEndToEnd(unittest.TestCase):
    """`capsule cluster init` output in use: a nats-server that admits only the listed hosts, and
    hosts that log in with their credentials files."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = pathlib.Path(self.tmp.name)
        (d / "alpha.toml").write_text(ALPHA.format(components=ARGS.components))
        (d / "beta.toml").write_text(BETA.format(components=ARGS.components))
        init = capsule("cluster", "init", "--hosts", "alpha,beta", "--out", str(d / "auth"))
        self.assertIn("nats-server.conf", init.stdout)
        self.assertEqual(oct((d / "auth" / "alpha.creds").stat().st_mode & 0o777), "0o600")
        self.dir = d
        self.nats = nats_process.NatsServer(ARGS.nats_server, config=d / "auth" / "nats-server.conf")
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.kill(signal.SIGTERM)
        self.nats.close()
        self.tmp.cleanup()

    def host(self, name, creds):
        extra = ["--cluster", self.nats.url] + (["--credentials", str(creds)] if creds else [])
        h = HostProcess(self.dir / f"{name}.toml", None, *extra)
        self.hosts.append(h)
        return h

    def test_hosts_with_credentials_work_and_others_are_refused(self):
        alpha = self.host("alpha", self.dir / "auth" / "alpha.creds")
        self.host("beta", self.dir / "auth" / "beta.creds")
        self.assertTrue(wait_for(lambda: capsule("call", "demo/echo/0", "hi", admin=alpha.admin,
                                                 check=False).stdout.strip() == "hi"))
        # No credentials: the host does not start, and says why.
        r = subprocess.run([ARGS.capsule, "run", str(self.dir / "beta.toml"), "--admin",
                            "127.0.0.1:0", "--cluster", self.nats.url, "--host", "gamma"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Authorization", r.stdout + r.stderr)
        # Another host's credentials: refused before connecting.
        r = subprocess.run([ARGS.capsule, "run", str(self.dir / "beta.toml"), "--admin",
                            "127.0.0.1:0", "--cluster", self.nats.url,
                            "--credentials", str(self.dir / "auth" / "alpha.creds")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("credentials of host 'alpha'", r.stderr)
        # init never overwrites.
        again = capsule("cluster", "init", "--hosts", "alpha", "--out", str(self.dir / "auth"), check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("never overwrites", again.stderr)


class FailoverEndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "bank.toml"
        self.manifest.write_text(BANK.format(components=ARGS.components))
        self.nats = nats_process.NatsServer(ARGS.nats_server, store_dir=self.dir / "jetstream")
        self.procs = []
        self.p1 = self.host("p1", "primary")
        self.s1 = self.host("s1", "standby")
        self.s2 = self.host("s2", "standby")

    def host(self, name, groups):
        h = HostProcess(self.manifest, None, "--cluster", self.nats.url, "--host", name, "--groups", groups,
                        "--data-dir", str(self.dir / f"data-{name}"))
        self.procs.append(h)
        return h

    def tearDown(self):
        for h in self.procs:
            h.kill(signal.SIGTERM)
        self.nats.close()
        self.tmp.cleanup()

    def call(self, host, target, text, check=True):
        return capsule("call", target, text, "--timeout-ms", "5000", admin=host.admin, check=check)

    def balance_is(self, host, expected):
        r = self.call(host, "bank/ledger/0", "balance", check=False)
        return r.returncode == 0 and r.stdout.strip() == expected

    def test_placement_failover_and_hand_back(self):
        # Placement: only the primary runs the ledger and the cache; the echo runs everywhere.
        self.assertIn("bank/ledger/0", self.p1.instances())
        for standby in (self.s1, self.s2):
            self.assertNotIn("bank/ledger/0", standby.instances())
            self.assertNotIn("bank/cache/0", standby.instances())
            self.assertIn("bank/echo/0", standby.instances())
        self.assertTrue(wait_for(lambda: self.call(self.s2, "bank/ledger/0", "add:5", check=False).returncode == 0))
        self.assertEqual(self.call(self.s2, "bank/ledger/0", "add:10").stdout.strip(), "15")
        names = sorted(h["name"] for h in self.s2.hosts()["hosts"])
        self.assertEqual(names, ["p1", "s1", "s2"])

        # The primary dies without a goodbye: s1, the lowest-named standby, adopts the ledger and
        # its balance (in JetStream KV, not on p1) is intact. The cache has no failover.
        t0 = time.time()
        self.p1.kill(signal.SIGKILL)
        self.assertTrue(wait_for(lambda: self.balance_is(self.s2, "15"), 20),
                        self.call(self.s2, "bank/ledger/0", "balance", check=False).stderr)
        took = time.time() - t0
        print(f"\n  failover: SIGKILL of p1 -> ledger answered by s1 after {took:.2f} s", file=sys.stderr)
        self.assertEqual(self.s1.adopted(), ["bank/ledger"])
        self.assertEqual(self.s2.adopted(), [])
        self.assertIn("bank/ledger/0", self.s1.instances())
        self.assertNotIn("bank/ledger/0", self.s2.instances())
        self.assertEqual(self.call(self.s2, "bank/ledger/0", "add:1").stdout.strip(), "16")
        cache = self.call(self.s2, "bank/cache/0", "x", check=False)
        self.assertEqual(cache.returncode, 1)
        self.assertIn("not found", cache.stderr)
        self.assertLess(took, 15, "death after 3 missed 1 s heartbeats, then one plan")

        # The primary comes back: it starts the ledger from its manifest and s1 gives it back.
        self.p1 = self.host("p1", "primary")
        self.assertTrue(wait_for(lambda: self.s1.adopted() == [], 20), self.s1.adopted())
        self.assertTrue(wait_for(lambda: "bank/ledger/0" not in self.s1.instances(), 10))
        self.assertTrue(wait_for(lambda: self.balance_is(self.s2, "16"), 10))
        self.assertEqual(self.call(self.p1, "bank/ledger/0", "add:4").stdout.strip(), "20")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats-server", required=True)
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
