#!/usr/bin/env python3
"""A componentize-py component using wasi:keyvalue (guest/examples/python/kv_counter) keeps its
state across a supervisor restart (it traps), an operator restart, and a restart of the whole
host on the same SQLite file: a real `capsule run`, driven with the CLI. Its settings come from
wasi:config, its start-up line from wasi:logging; a component without storage grants is refused
through wasi:keyvalue, and the first keeps answering. With --nats-server, the same component keeps
its count in NATS JetStream KV (`storage_backend = "nats-kv"`): a second host, with a data dir of
its own, goes on from where the first one stopped."""
import pathlib
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, data_dir_with_cache, wait_for  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "cluster"))
import nats_process  # noqa: E402

ARGS = None

# The counter: its config, declared capabilities and grants (py/kv), and its supervision.
COUNTER = """
[[component]]
name = "py/kv"
path = "py_kv_counter.wasm"
  [component.limits]
  memory = "{memory}"
  [component.config]
  bucket = "counters"
  key = "visits"
  [component.capabilities]
  "storage.read" = ["counters/visits"]
  "storage.write" = ["counters/visits"]
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[grants."py/kv"]
"storage.read" = ["counters/visits"]
"storage.write" = ["counters/visits"]
"""

MANIFEST = """
[host]
name = "py-kv"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "py/nogrants"
path = "py_kv_counter.wasm"
  [component.limits]
  memory = "{memory}"
""" + COUNTER

class PythonKeyValue(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "app.toml"
        self.manifest.write_text(MANIFEST.format(components=ARGS.components, memory=ARGS.memory))
        data_dir_with_cache(self.dir / "data", ARGS.cache_dir)
        self.host = None

    def tearDown(self):
        if self.host:
            self.host.kill()
        self.tmp.cleanup()

    def start(self):
        # A cold start compiles the 18 MB Python component (cached in data/cache after).
        self.host = HostProcess(self.manifest, ready_timeout=300)

    def call(self, target, payload, check=True):
        return capsule("call", target, payload, "--timeout-ms", "20000",
                       admin=self.host.admin, check=check, timeout=60)

    def value(self):
        r = self.call("py/kv/0", "get", check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def ready_lines(self):
        return [e for e in self.host.log()
                if e.get("component") == "py/kv/0" and e.get("msg", "").startswith("ready with ")]

    def test_counter_survives_supervisor_operator_and_host_restarts(self):
        self.start()
        self.assertEqual([self.call("py/kv/0", "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        # The instance traps; its supervisor restarts it, and the value is still there.
        crashed = self.call("py/kv/0", "crash", check=False)
        self.assertNotEqual(crashed.returncode, 0)
        self.assertTrue(wait_for(lambda: self.value() == "3", 30), self.value())
        # The operator restarts it.
        capsule("restart", "py/kv", admin=self.host.admin)
        self.assertTrue(wait_for(lambda: self.value() == "3", 30), self.value())
        self.assertEqual(self.call("py/kv/0", "incr").stdout.strip(), "4")
        # The whole host stops and a new one starts on the same data dir (SQLite file).
        self.assertEqual(self.host.terminate(), 0, self.host.tail())
        self.start()
        self.assertEqual(self.value(), "4")
        self.assertEqual(self.call("py/kv/0", "incr").stdout.strip(), "5")
        # init read the value through wasi:keyvalue and said so through wasi:logging, with the
        # context as a field.
        ready = self.ready_lines()
        self.assertTrue(ready, "no wasi:logging line from init")
        self.assertEqual(ready[-1]["msg"], "ready with 4")
        self.assertEqual(ready[-1].get("context"), "kv_counter")

    def test_without_storage_grants_the_counter_is_refused_and_the_other_answers(self):
        self.start()
        refused = self.call("py/nogrants/0", "incr", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("access-denied", refused.stdout + refused.stderr)
        self.assertEqual(self.call("py/kv/0", "incr").stdout.strip(), "1")
        self.assertNotEqual(self.call("py/nogrants/0", "get", check=False).returncode, 0)


# The counter alone, its storage in JetStream KV (the cluster's server) instead of SQLite.
JETSTREAM_MANIFEST = """
[host]
components_dir = "{components}"
storage_backend = "nats-kv"
kv_bucket = "py_kv_e2e"
""" + COUNTER


class PythonKeyValueOnJetStream(unittest.TestCase):
    """wasi:keyvalue's store and atomics from a componentize-py guest, backed by JetStream KV."""

    def setUp(self):
        if not ARGS.nats_server:
            self.skipTest("no --nats-server given")
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "app.toml"
        self.manifest.write_text(JETSTREAM_MANIFEST.format(components=ARGS.components,
                                                           memory=ARGS.memory))
        self.nats = nats_process.NatsServer(ARGS.nats_server, store_dir=self.dir / "jetstream")
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.kill(signal.SIGTERM)
        self.nats.close()
        self.tmp.cleanup()

    def start(self, name):
        data = self.dir / f"data-{name}"
        data_dir_with_cache(data, ARGS.cache_dir)
        h = HostProcess(self.manifest, None, "--cluster", self.nats.url, "--host", name,
                        "--data-dir", str(data), ready_timeout=300)
        self.hosts.append(h)
        return h

    @staticmethod
    def call(host, payload, check=True):
        return capsule("call", "py/kv/0", payload, "--timeout-ms", "20000", admin=host.admin,
                       check=check, timeout=60)

    def test_the_count_lives_in_jetstream_and_a_new_host_goes_on_from_it(self):
        first = self.start("kv1")
        self.assertEqual([self.call(first, "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        # A trap restarts the instance; init reads the value back from the server.
        self.assertNotEqual(self.call(first, "crash", check=False).returncode, 0)
        self.assertTrue(wait_for(lambda: self.call(first, "get", check=False).stdout.strip()
                                 == "3", 30))
        self.assertEqual(first.terminate(), 0, first.tail())
        # Another host, with an empty data dir of its own (no SQLite file holds the count), reads
        # it from JetStream through wasi:keyvalue and goes on.
        second = self.start("kv2")
        self.assertEqual(self.call(second, "get").stdout.strip(), "3")
        self.assertEqual(self.call(second, "incr").stdout.strip(), "4")
        ready = [e for e in second.log()
                 if e.get("component") == "py/kv/0" and e.get("msg", "").startswith("ready with ")]
        self.assertEqual(ready[-1]["msg"] if ready else None, "ready with 3")
        # The server restarts (same store); the host reconnects and the count is still there.
        self.nats.stop()
        self.nats.start()
        self.assertTrue(wait_for(lambda: self.call(second, "incr", check=False).stdout.strip()
                                 == "5", 60), second.tail())


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="16MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    parser.add_argument("--nats-server", help="a nats-server binary: also run on JetStream KV")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
