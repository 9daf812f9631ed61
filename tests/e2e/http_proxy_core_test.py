#!/usr/bin/env python3
"""capsule:core for wasi:http/proxy routes, and their supervision (docs/http.md), on a real
`capsule run`: http_ask.c (a wasi:http/proxy handler built from C against the world
capsule:http-core/proxy) asks the capsule:core component app/echo with messaging.call and
answers with its reply; the same file on a route without the grant answers the guest's
`permission-denied` (and the denial is audited); `request` and `subscribe`, which need a mailbox,
are refused naming `call`; a message to a route's instance is refused; a route whose instances
trap on every request gives up after its restart intensity - one error line naming the route,
the component, the intensity and the last failure; `capsule ps`, /metrics and /v1/health show it
failed; its requests get 503 naming the route and the cause - while a canary route (static, and
the granted proxy route) keeps answering throughout."""
import http.client
import json
import pathlib
import sys
import tempfile
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

MANIFEST = """
[host]
name = "http-proxy-core-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "app/echo"
path = "echo.wasm"

[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/ask"
wasm = "{components}/c_http_ask.wasm"
name = "web/ask"
instances = 2
  [http.route.capabilities]
  "messaging.request" = ["app/echo/*"]

[[http.route]]
path = "/nogrant"
wasm = "{components}/c_http_ask.wasm"
name = "web/nogrant"
instances = 1
  [http.route.capabilities]
  "messaging.request" = ["app/echo/*"]

[[http.route]]
path = "/boom"
wasm = "{components}/c_http_ask.wasm"
name = "web/boom"
instances = 1
  [http.route.supervision]
  max_restarts = 2
  window_ms = 60000

[[http.route]]
path = "/static"
static = "ok\\n"

[grants."web/ask"]
"messaging.request" = ["app/echo/*"]
"""


class HttpProxyCoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = pathlib.Path(cls.tmp.name) / "app.toml"
        path.write_text(MANIFEST.format(components=ARGS.components))
        cls.dir = pathlib.Path(cls.tmp.name)
        cls.host = HostProcess(path, "127.0.0.1:0", ready_timeout=120)
        cls.address = cls.host.http_address()

    @classmethod
    def tearDownClass(cls):
        cls.host.kill()
        cls.tmp.cleanup()

    def request(self, path):
        conn = http.client.HTTPConnection(*self.address, timeout=30)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def assert_canaries(self):
        self.assertEqual(self.request("/static"), (200, b"ok\n"))
        self.assertEqual(self.request("/ask?msg=canary"), (200, b"canary"))

    def test_a_proxy_handler_asks_a_capsule_component_and_answers_with_its_reply(self):
        for i in range(5):  # across both instances of the pool, reused
            self.assertEqual(self.request(f"/ask?msg=hello-{i}"), (200, f"hello-{i}".encode()))
        self.assertEqual(self.request("/ask/nocall"), (200, b"no call"))

    def test_without_the_grant_the_call_is_refused_and_audited(self):
        status, body = self.request("/nogrant?msg=x")
        self.assertEqual(status, 502, body)
        self.assertIn(b"call to app/echo/0 failed: permission-denied", body)
        # The denial is audited under the route's own instance id, as a component's would be.
        audit = self.dir / "data" / "audit.jsonl"

        def denied():
            if not audit.exists():
                return False
            records = [json.loads(line) for line in audit.read_text().splitlines() if line]
            return any(r.get("who", "").startswith("web/nogrant/") and not r.get("allowed", True)
                       and r.get("action") == "messaging.request" for r in records)
        self.assertTrue(wait_for(denied, 10), audit.read_text() if audit.exists() else "no audit")
        self.assert_canaries()

    def test_calls_to_a_missing_target_name_it(self):
        status, body = self.request("/ask?to=app/nobody/0")
        self.assertEqual(status, 502, body)
        self.assertIn(b"call to app/nobody/0 failed:", body)
        self.assert_canaries()

    def test_a_message_to_a_route_instance_is_refused(self):
        r = capsule("call", "web/ask/0", "hi", admin=self.host.admin, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("web/ask/0", r.stdout + r.stderr)
        self.assert_canaries()

    def test_z_a_route_that_traps_on_every_request_gives_up_after_its_intensity(self):
        # max_restarts = 2: the first three failures are 500s; the third is past the intensity.
        for _ in range(3):
            status, body = self.request("/boom/trap")
            self.assertEqual(status, 500, body)
            self.assert_canaries()
        status, body = self.request("/boom/trap")
        self.assertEqual(status, 503, body)
        error = json.loads(body)
        self.assertEqual(error["error"], "route-failed")
        self.assertIn("http route /boom (web/boom) is down", error["message"])
        self.assertIn("more than 2 restarts in 60000 ms", error["message"])
        # Even a request that would not trap: the route is down, not the instance.
        self.assertEqual(self.request("/boom/nocall")[0], 503)

        lines = self.host.wait_log(lambda e: e.get("msg", "").startswith("http route gave up"))
        self.assertEqual(len(lines), 1, lines)
        line = lines[0]
        self.assertEqual(line.get("level"), "error")
        self.assertEqual((line["route"], line["component"]), ("/boom", "web/boom"))
        self.assertEqual(line["intensity"], "2 restarts in 60000 ms")
        self.assertIn("trap", line["reason"])

        ps = json.loads(capsule("ps", "--json", admin=self.host.admin).stdout)
        routes = {r["route"]: r for r in ps["routes"]}
        self.assertEqual(routes["/boom"]["state"], "failed")
        self.assertIn("gave up", routes["/boom"]["gave_up"])
        self.assertEqual(routes["/ask"]["state"], "running")
        text = capsule("ps", admin=self.host.admin).stdout
        self.assertRegex(text, r"/boom\s+web/boom\s+c_http_ask.wasm\s+failed")
        metrics = capsule("metrics", admin=self.host.admin).stdout
        self.assertIn('capsule_http_proxy_route_failed{route="/boom",name="web/boom"} 1', metrics)
        self.assertIn('capsule_http_proxy_route_failed{route="/ask",name="web/ask"} 0', metrics)
        conn = http.client.HTTPConnection(*self.host.tcp.split(":"), timeout=10)
        conn.request("GET", "/v1/health", headers={"Authorization": f"Bearer {self.host.token()}"})
        r = conn.getresponse()
        health = json.loads(r.read())
        conn.close()
        self.assertEqual(r.status, 503, health)
        self.assertEqual([f["route"] for f in health["failed_routes"]], ["/boom"])
        self.assertIn("last failure", health["failed_routes"][0]["reason"])
        self.assert_canaries()


if __name__ == "__main__":
    ARGS, rest = capsule_process.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
