#!/usr/bin/env python3
"""End-to-end test of the real `capsule` binary: run a host from a manifest in a child process,
drive it with the CLI (send, call, ps, metrics, upgrade, restart, stop), check manifest errors and
a graceful SIGTERM shutdown. Bounded in time; every child process is killed on the way out."""
import json
import pathlib
import sys
import tempfile
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, free_port, wait_for  # noqa: E402



MANIFEST = """
[host]
name = "e2e"
data_dir = "data"
components_dir = "{components}"
upgrade_dirs = ["{components}"]

[[component]]
name = "demo/store"
path = "store.wasm"

[[component]]
name = "demo/transform"
path = "transform.wasm"
  [component.config]
  next = "demo/store/0"
  fail_every = 7
  [component.supervision]
  max_restarts = 50
  window_ms = 60000
  backoff_ms = 1
  [component.capabilities]
  "messaging.send" = ["demo/store/*"]

[[component]]
name = "demo/ingest"
path = "relay.wasm"
subscribe = ["sensor.readings"]
  [component.config]
  mode = "forward"
  next = "demo/transform/0"
  tag = "in"
  [component.capabilities]
  "messaging.send" = ["demo/transform/*"]
  "messaging.subscribe" = ["sensor.readings"]

[grants."demo/transform"]
"messaging.send" = ["demo/store/*"]

[grants."demo/ingest"]
"messaging.send" = ["demo/transform/*"]
"messaging.subscribe" = ["sensor.*"]
"""


class CliEndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "app.toml"
        self.text = MANIFEST.format(components=ARGS.components)
        self.manifest.write_text(self.text)

    def tearDown(self):
        self.tmp.cleanup()

    def test_pipeline_lifecycle(self):
        host = HostProcess(self.manifest)
        try:
            a = host.admin
            for i in range(1, 21):
                capsule("send", "demo/ingest/0", f"reading-{i}", admin=a)
            # 20 readings, the flaky stage traps on the 7th and 14th: 18 arrive, nothing hangs.
            self.assertTrue(wait_for(lambda: capsule("call", "demo/store/0", "count", admin=a).stdout.strip() == "18"),
                            capsule("call", "demo/store/0", "count", admin=a).stdout)
            self.assertEqual(capsule("call", "demo/store/0", "last", admin=a).stdout.strip(), "READING-20|IN")

            ps = json.loads(capsule("ps", "--json", admin=a).stdout)["instances"]
            by_id = {i["id"]: i for i in ps}
            self.assertEqual(set(by_id), {"demo/store/0", "demo/transform/0", "demo/ingest/0"})
            self.assertEqual(by_id["demo/transform/0"]["restarts"], 2)
            self.assertEqual(by_id["demo/transform/0"]["state"], "running")
            table = capsule("ps", admin=a).stdout
            self.assertIn("demo/transform/0", table)
            self.assertIn("RESTARTS", table)

            metrics = capsule("metrics", admin=a).stdout
            self.assertIn('capsule_instance_restarts_total{component="demo/transform",component_instance="demo/transform/0"} 2', metrics)
            self.assertIn('capsule_requests_total{outcome="replied"}', metrics)
            self.assertIn("capsule_request_duration_seconds_bucket", metrics)
            self.assertIn("capsule_failures_total 2", metrics)

            bad = capsule("call", "demo/store/0", "nonsense", admin=a, check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("unknown query", bad.stderr)
            ghost = capsule("call", "demo/ghost/0", "x", admin=a, check=False)
            self.assertEqual(ghost.returncode, 1)
            self.assertIn("no component demo/ghost/0", ghost.stderr)

            # Hot upgrade: a new instance takes over; messages sent afterwards reach it.
            up = capsule("upgrade", "demo/store", str(pathlib.Path(ARGS.components) / "store.wasm"), admin=a)
            self.assertIn("upgraded demo/store", up.stdout)
            self.assertEqual(capsule("call", "demo/store/0", "count", admin=a).stdout.strip(), "0")
            for i in range(3):
                capsule("send", "demo/store/0", f"direct-{i}", admin=a)
            self.assertEqual(capsule("call", "demo/store/0", "count", admin=a).stdout.strip(), "3")

            capsule("restart", "demo/transform", admin=a)
            self.assertTrue(wait_for(lambda: any(i["id"] == "demo/transform/0" and i["restarts"] == 0
                                                 for i in json.loads(capsule("ps", "--json", admin=a).stdout)["instances"])))
            capsule("stop", "demo/ingest", admin=a)
            gone = capsule("send", "demo/ingest/0", "x", admin=a, check=False)
            self.assertEqual(gone.returncode, 1)
            self.assertIn("no component demo/ingest/0", gone.stderr)

            self.assertEqual(host.terminate(), 0)
            log = [json.loads(l) for l in host.lines if l.startswith("{")]
            self.assertTrue(any(e["msg"] == "stopped" for e in log), host.lines[-5:])
            self.assertTrue(any(e.get("component") == "demo/transform/0" and e["level"] == "error" for e in log))
        finally:
            host.kill()

    def test_ungranted_send_is_denied_and_audited(self):
        # transform declares messaging.send but the host grants nothing: every forward is refused.
        text = self.text.replace('[grants."demo/transform"]\n"messaging.send" = ["demo/store/*"]\n', '')
        self.manifest.write_text(text)
        host = HostProcess(self.manifest)
        try:
            capsule("send", "demo/transform/0", "hello", admin=host.admin)
            audit = self.dir / "data" / "audit.jsonl"
            self.assertTrue(wait_for(lambda: audit.exists() and "messaging.send" in audit.read_text()))
            # The last component record (the admin send that caused it is recorded too).
            record = [r for r in map(json.loads, audit.read_text().splitlines())
                      if r.get("kind") != "admin"][-1]
            self.assertEqual(record["who"], "demo/transform/0")
            self.assertEqual(record["action"], "messaging.send")
            self.assertEqual(record["target"], "demo/store/0")
            self.assertFalse(record["allowed"])
            self.assertEqual(capsule("call", "demo/store/0", "count", admin=host.admin).stdout.strip(), "0")
            self.assertEqual(host.terminate(), 0)
        finally:
            host.kill()

    def test_supervision_group_restarts_its_members_together(self):
        text = self.text + '''
[[component]]
name = "bank/left"
path = "counter.wasm"

[[component]]
name = "bank/right"
path = "counter.wasm"

[[component]]
name = "bank/watcher"
path = "counter.wasm"
links = ["bank/left"]

[[group]]
name = "pair"
members = ["bank/left", "bank/right"]
  [group.supervision]
  strategy = "one-for-all"
  max_restarts = 5
  backoff_ms = 0
'''
        self.manifest.write_text(text)
        host = HostProcess(self.manifest)
        try:
            a = host.admin
            self.assertEqual(capsule("call", "bank/right/0", "add:7", admin=a).stdout.strip(), "7")
            self.assertEqual(capsule("call", "bank/watcher/0", "add:3", admin=a).stdout.strip(), "3")
            ps = json.loads(capsule("ps", "--json", admin=a).stdout)["instances"]
            groups = {i["id"]: i["group"] for i in ps}
            self.assertEqual(groups["bank/left/0"], "pair")
            self.assertEqual(groups["bank/right/0"], "pair")
            self.assertEqual(groups["demo/store/0"], "demo/store")
            crash = capsule("call", "bank/left/0", "crash", admin=a, check=False)
            self.assertEqual(crash.returncode, 1)
            # one-for-all: the right counter restarts with the left one and starts again from 0.
            self.assertTrue(wait_for(lambda: capsule("call", "bank/right/0", "get", admin=a).stdout.strip() == "0"))
            # watcher is linked to left (its own supervisor): it fails and restarts with it.
            self.assertTrue(wait_for(lambda: capsule("call", "bank/watcher/0", "get", admin=a).stdout.strip() == "0"))
            # restart of one member keeps it in its group.
            capsule("restart", "bank/right", admin=a)
            ps = json.loads(capsule("ps", "--json", admin=a).stdout)["instances"]
            self.assertEqual({i["id"]: i["group"] for i in ps}["bank/right/0"], "pair")
            self.assertEqual(host.terminate(), 0)
        finally:
            host.kill()

    def test_a_supervisor_that_gives_up_says_so_once_and_the_host_shows_it(self):
        self.manifest.write_text(self.text + '''
[[component]]
name = "bad/trap"
path = "trap.wasm"
  [component.supervision]
  max_restarts = 2
  window_ms = 60000
  backoff_ms = 0
''')
        host = HostProcess(self.manifest)
        try:
            a = host.admin
            for _ in range(3):
                capsule("call", "bad/trap/0", "boom", admin=a, check=False)
            ps = lambda: {i["id"]: i["state"] for i in
                          json.loads(capsule("ps", "--json", admin=a).stdout)["instances"]}
            self.assertTrue(wait_for(lambda: ps().get("bad/trap/0") == "failed"), ps())
            self.assertEqual(ps()["demo/store/0"], "running")
            # Every later message fails naming the component, and the log does not fill up.
            for _ in range(50):
                r = capsule("send", "bad/trap/0", "late", admin=a, check=False)
                self.assertNotEqual(r.returncode, 0)
            self.assertIn("bad/trap/0 is not running", r.stderr)
            self.assertNotIn("actor ", r.stderr)
            conn = capsule_process.UnixHTTPConnection(a, timeout=5)
            conn.request("GET", "/v1/health")
            answer = conn.getresponse()
            health = json.loads(answer.read())
            conn.close()
            self.assertEqual(answer.status, 503, health)
            self.assertEqual(health["failed"], ["bad/trap/0"])
            self.assertEqual(host.terminate(), 0)
            lines = [json.loads(l) for l in host.lines]
            gave_up = [l for l in lines if "gave up" in l.get("msg", "")]
            self.assertEqual(len(gave_up), 1, gave_up)
            self.assertEqual(gave_up[0]["level"], "error")
            self.assertIn("bad/trap", gave_up[0]["msg"])
            self.assertIn("2 restarts in 60000 ms", gave_up[0]["intensity"])
            self.assertIn("trap", gave_up[0]["reason"])
            self.assertLess(len(lines), 60, "no line per failed message")
        finally:
            host.kill()

    def test_group_manifest_errors(self):
        members = '''
[[component]]
name = "bank/left"
path = "counter.wasm"
{extra}
[[component]]
name = "bank/right"
path = "counter.wasm"

[[group]]
name = "pair"
members = {members}
'''
        cases = {
            'members: "bank/ghost" is not a [[component]]': members.format(extra="", members='["bank/left", "bank/ghost"]'),
            'members: "bank/left" is listed twice': members.format(extra="", members='["bank/left", "bank/left"]'),
            "it is supervised by group 'pair'": members.format(extra='  [component.supervision]\n  max_restarts = 1\n', members='["bank/left", "bank/right"]'),
            "cannot fail over one by one": members.format(extra='  [component.placement]\n  groups = ["a"]\n  failover = ["b"]\n', members='["bank/left", "bank/right"]'),
            "placement.groups: differs from": members.format(extra='  [component.placement]\n  groups = ["a"]\n', members='["bank/left", "bank/right"]'),
        }
        for expected, extra in cases.items():
            with self.subTest(expected=expected):
                bad = self.dir / "bad.toml"
                bad.write_text(self.text + extra)
                r = capsule("run", str(bad), check=False)
                self.assertEqual(r.returncode, 1)
                self.assertRegex(r.stderr, r"bad\.toml:\d+: ")
                self.assertIn(expected, r.stderr)

    def test_admin_unreachable_is_a_clear_error(self):
        r = capsule("ps", admin=f"127.0.0.1:{free_port()}", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is `capsule run` running?", r.stderr)
        r = capsule("ps", "--data-dir", str(self.dir / "nothing-here"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"no capsule host at {self.dir / 'nothing-here' / 'admin.sock'}", r.stderr)

    def test_manifest_errors_name_file_line_and_field(self):
        base = self.text
        cases = {
            'limits.memory: expected a size': base.replace('path = "store.wasm"', 'path = "store.wasm"\n  [component.limits]\n  memory = "lots"'),
            'restart: expected permanent': base.replace('path = "transform.wasm"', 'path = "transform.wasm"\nrestart = "sometimes"'),
            'path: no such file': base.replace('"relay.wasm"', '"missing.wasm"'),
            'colour: unknown field': base.replace('path = "store.wasm"', 'path = "store.wasm"\ncolour = "blue"'),
            'is declared twice': base + '\n[[component]]\nname = "demo/store"\npath = "store.wasm"\n',
            'placement.failover: needs placement.groups': base.replace('path = "store.wasm"', 'path = "store.wasm"\n  [component.placement]\n  failover = ["standby"]'),
            'placement.groups: group names are': base.replace('path = "store.wasm"', 'path = "store.wasm"\n  [component.placement]\n  groups = ["two words"]'),
            'links: "demo/ghost" is not a [[component]]': base.replace('path = "store.wasm"', 'path = "store.wasm"\nlinks = ["demo/ghost"]'),
            'links: a component cannot link to itself': base.replace('path = "store.wasm"', 'path = "store.wasm"\nlinks = ["demo/store"]'),
            'placement.zone: unknown field': base.replace('path = "store.wasm"', 'path = "store.wasm"\n  [component.placement]\n  zone = "eu"'),
            'host.storage_backend: expected "sqlite" or "nats-kv"': base.replace('[host]\n', '[host]\nstorage_backend = "redis"\n'),
            'limits.messages_per_second: expected a positive whole number': base.replace('path = "store.wasm"', 'path = "store.wasm"\n  [component.limits]\n  messages_per_second = -5'),
            'limits.log_bytes_per_second: expected a size': base.replace('path = "store.wasm"', 'path = "store.wasm"\n  [component.limits]\n  log_bytes_per_second = "plenty"'),
            'host.quotas.flood_rate: unknown field (known: messages_per_second': base.replace('[host]\n', '[host]\nquotas = { flood_rate = 5 }\n'),
        }
        for expected, text in cases.items():
            with self.subTest(expected=expected):
                bad = self.dir / "bad.toml"
                bad.write_text(text)
                r = capsule("run", str(bad), check=False)
                self.assertEqual(r.returncode, 1)
                self.assertRegex(r.stderr, r"bad\.toml:\d+: ")
                self.assertIn(expected, r.stderr)

    def test_shared_storage_needs_a_cluster(self):
        bad = self.dir / "kv.toml"
        bad.write_text(self.text.replace('[host]\n', '[host]\nstorage_backend = "nats-kv"\n'))
        r = capsule("run", str(bad), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('storage_backend = "nats-kv" needs --cluster', r.stdout + r.stderr)

    def test_failed_init_stops_the_host_with_the_reason(self):
        text = self.text.replace('next = "demo/store/0"\n  fail_every = 7', 'fail_every = 7')
        bad = self.dir / "noinit.toml"
        bad.write_text(text)
        r = capsule("run", str(bad), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("transform needs config next=", r.stdout + r.stderr)

    def test_inspect(self):
        ok = capsule("inspect", str(pathlib.Path(ARGS.components) / "echo.wasm"))
        self.assertIn("capsule:core/lifecycle@0.1.3", ok.stdout)
        self.assertIn("kind:     capsule component", ok.stdout)
        self.assertIn("compatible: yes", ok.stdout)
        no = capsule("inspect", str(pathlib.Path(ARGS.components) / "incompatible" / "echo_wit_v2.wasm"), check=False)
        self.assertEqual(no.returncode, 1)
        self.assertIn("capsule:core@0.2.0", no.stdout)

    def test_a_component_using_the_async_abi_is_inspected_and_runs(self):
        # async_abi.c calls the component model's async built-ins (waitable sets, context, yield).
        r = capsule("inspect", str(pathlib.Path(ARGS.components) / "async_abi.wasm"))
        self.assertIn("compatible: yes", r.stdout)
        self.manifest.write_text(self.text + '''
[[component]]
name = "demo/abi"
path = "async_abi.wasm"
''')
        host = HostProcess(self.manifest)
        try:
            a = host.admin
            self.assertEqual(capsule("call", "demo/abi/0", "context", admin=a).stdout.strip(), "context ok")
            self.assertEqual(capsule("call", "demo/abi/0", "yield:50", admin=a).stdout.strip(), "yielded 50")
            # The rest of the manifest runs on the engine's main side as before.
            self.assertEqual(capsule("call", "demo/store/0", "count", admin=a).stdout.strip(), "0")
            self.assertEqual(host.terminate(), 0)
        finally:
            host.kill()

    def test_inspect_names_a_wasi_http_proxy_component(self):
        r = capsule("inspect", str(pathlib.Path(ARGS.components) / "c_http_hello.wasm"))
        self.assertIn("wasi:http/incoming-handler@0.2.12", r.stdout)
        self.assertIn("kind:     wasi:http/proxy component", r.stdout)
        self.assertIn("compatible: yes", r.stdout)

    def test_inspect_refuses_a_component_importing_what_the_host_lacks(self):
        path = pathlib.Path(ARGS.components) / "incompatible" / "needs_keyvalue.wasm"
        r = capsule("inspect", str(path), check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("compatible: no", r.stdout)
        self.assertNotIn("compatible: yes", r.stdout)
        self.assertIn("missing import: wasi:keyvalue/store@0.2.0-draft2", r.stdout)
        self.assertIn("missing import: wasi:keyvalue/atomics@0.2.0-draft2", r.stdout)

    def test_run_refuses_a_component_importing_what_the_host_lacks(self):
        bad = self.dir / "kv.toml"
        bad.write_text(self.text.replace('"relay.wasm"', '"incompatible/needs_keyvalue.wasm"'))
        r = capsule("run", str(bad), check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("missing import: wasi:keyvalue/store@0.2.0-draft2", r.stdout + r.stderr)
        self.assertIn("needs_keyvalue.wasm", r.stdout + r.stderr)

    def test_help_explains(self):
        r = capsule("--help")
        for word in ("run", "inspect", "ps", "send", "call", "stop", "restart", "upgrade", "metrics"):
            self.assertIn(word, r.stdout)


if __name__ == "__main__":
    ARGS, rest = capsule_process.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
