#!/usr/bin/env python3
"""A componentize-py component using wasi:keyvalue (guest/examples/python/kv_counter) keeps its
state across a supervisor restart (it traps), an operator restart, and a restart of the whole
host on the same SQLite file: a real `capsule run`, driven with the CLI. Its settings come from
wasi:config, its start-up line from wasi:logging; a component without storage grants is refused
through wasi:keyvalue, and the first keeps answering."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, data_dir_with_cache, wait_for  # noqa: E402

ARGS = None

MANIFEST = """
[host]
name = "py-kv"
data_dir = "data"
components_dir = "{components}"

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

[[component]]
name = "py/nogrants"
path = "py_kv_counter.wasm"
  [component.limits]
  memory = "{memory}"

[grants."py/kv"]
"storage.read" = ["counters/visits"]
"storage.write" = ["counters/visits"]
"""


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


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="16MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
