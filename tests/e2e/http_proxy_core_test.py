#!/usr/bin/env python3
"""capsule:core for wasi:http/proxy routes, and their supervision (docs/http.md), on a real
`capsule run`: http_ask.c (a wasi:http/proxy handler built from C against the world
capsule:http-core/proxy) asks the capsule:core component app/echo with messaging.call and
answers with its reply; the same file on a route without the grant answers the guest's
`permission-denied` (and the denial is audited); `request` and `subscribe`, which need a mailbox,
are refused naming `call`; a message to a route's instance is refused; a route whose instances
trap on every request gives up after its restart intensity - one error line naming the route,
the component, the intensity and the last failure; `capsule ps`, /metrics and /v1/health show it
failed; its requests get 503 naming the route and the cause; `capsule restart /boom` brings it
back (a log line naming who restarted it; ps, /metrics and /v1/health clear; a request that does
not trap is answered 200, one that traps counts in a fresh window), `capsule restart web/boom`
restarts a serving route by its name, and unknown or static names are refused naming what
exists - while a canary route (static, and the granted proxy route) keeps answering
throughout, checked by a thread of its own during the give-up and the restarts."""
import http.client
import json
import pathlib
import sys
import tempfile
import threading
import time
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
  "messaging.request" = ["app/echo/*", "web/nogrant/*"]

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
"messaging.request" = ["app/echo/*", "web/nogrant/*"]
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
        self.assertIn("no component web/ask/0 on this host: web/ask is a wasi:http/proxy route",
                      r.stdout + r.stderr)
        # From a guest (granted to ask web/nogrant/*): its not-found carries the same text.
        status, body = self.request("/ask?to=web/nogrant/0")
        self.assertEqual(status, 502, body)
        self.assertIn(b"call to web/nogrant/0 failed: not-found", body)
        self.assertIn(b"web/nogrant is a wasi:http/proxy route", body)
        self.assert_canaries()

    def health(self):
        conn = http.client.HTTPConnection(*self.host.tcp.split(":"), timeout=10)
        conn.request("GET", "/v1/health", headers={"Authorization": f"Bearer {self.host.token()}"})
        r = conn.getresponse()
        health = json.loads(r.read())
        conn.close()
        return r.status, health

    def start_canary_thread(self):
        """Requests /static and the granted proxy route in a loop until the returned event is
        set; the list it returns collects every answer that was not the expected one."""
        stop, wrong = threading.Event(), []

        def run():
            while not stop.is_set():
                for path, want in (("/static", (200, b"ok\n")),
                                   ("/ask?msg=bg", (200, b"bg"))):
                    try:
                        got = self.request(path)
                    except OSError as e:
                        got = ("error", str(e))
                    if got != want:
                        wrong.append((path, got))
                time.sleep(0.01)  # a steady trickle, not a load test
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return stop, wrong, thread

    def test_z_a_route_that_traps_on_every_request_gives_up_after_its_intensity(self):
        stop, wrong, thread = self.start_canary_thread()
        try:
            self.give_up_and_restart()
        finally:
            stop.set()
            thread.join(30)
        self.assertEqual(wrong, [])

    def give_up_and_restart(self):
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
        status, health = self.health()
        self.assertEqual(status, 503, health)
        self.assertEqual([f["route"] for f in health["failed_routes"]], ["/boom"])
        self.assertIn("last failure", health["failed_routes"][0]["reason"])
        self.assert_canaries()
        self.assertIn("`capsule restart /boom` serves it again", error["message"])

        # Names that are no route to restart are refused, naming what exists.
        r = capsule("restart", "/nope", admin=self.host.admin, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no HTTP route /nope on this host", r.stderr)
        self.assertIn("/boom (web/boom)", r.stderr)
        r = capsule("restart", "web/nope", admin=self.host.admin, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no component or HTTP route web/nope", r.stderr)
        self.assertIn("components: app/echo", r.stderr)
        self.assertIn("/static (static)", r.stderr)
        r = capsule("restart", "/static", admin=self.host.admin, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nothing to restart", r.stderr)
        self.assertEqual(self.request("/boom/nocall")[0], 503)  # still down

        # `capsule restart` by the route's path brings it back.
        r = capsule("restart", "/boom", admin=self.host.admin)
        self.assertIn("restarted http route /boom (web/boom); it was down (gave up: more than 2",
                      r.stdout)
        restarted = self.host.wait_log(
            lambda e: e.get("msg", "").startswith("http route restarted: /boom"))
        self.assertEqual(len(restarted), 1, restarted)
        self.assertEqual(restarted[0]["component"], "web/boom")
        self.assertTrue(restarted[0]["by"].startswith("unix:uid="), restarted[0])
        self.assertTrue(restarted[0]["was"].startswith("failed: gave up"), restarted[0])
        self.assertEqual(self.request("/boom/nocall"), (200, b"no call"))
        ps = json.loads(capsule("ps", "--json", admin=self.host.admin).stdout)
        boom = {r["route"]: r for r in ps["routes"]}["/boom"]
        self.assertEqual((boom["state"], boom["gave_up"], boom["restarts"]), ("running", "", 1))
        self.assertEqual(boom["failed"], 3)  # a counter since the host started
        metrics = capsule("metrics", admin=self.host.admin).stdout
        self.assertIn('capsule_http_proxy_route_failed{route="/boom",name="web/boom"} 0', metrics)
        status, health = self.health()
        self.assertEqual((status, health["failed_routes"]), (200, []), health)

        # A fresh window: two traps are restarts within the intensity, the third gives up again.
        for _ in range(3):
            self.assertEqual(self.request("/boom/trap")[0], 500)
        self.assertEqual(self.request("/boom/nocall")[0], 503)
        self.assertEqual(len(self.host.wait_log(
            lambda e: e.get("msg", "").startswith("http route gave up"))), 2)

        # By its name, and on a route that serves: its instances start afresh.
        capsule("restart", "web/boom", admin=self.host.admin)
        self.assertEqual(self.request("/boom/nocall"), (200, b"no call"))
        capsule("restart", "web/boom", admin=self.host.admin)
        self.assertEqual(self.request("/boom/nocall"), (200, b"no call"))
        ps = json.loads(capsule("ps", "--json", admin=self.host.admin).stdout)
        boom = {r["route"]: r for r in ps["routes"]}["/boom"]
        self.assertEqual((boom["state"], boom["restarts"]), ("running", 3))
        # 3 before giving up; 1 after the first restart (reused by the first trap), 2 more for
        # the other traps; 1 after each restart by name: no instance is reused across a restart.
        self.assertEqual(boom["instantiated"], 3 + 1 + 2 + 1 + 1)
        self.assert_canaries()


if __name__ == "__main__":
    ARGS, rest = capsule_process.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
