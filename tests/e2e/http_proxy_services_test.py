#!/usr/bin/env python3
"""wasi:http/proxy routes get wasi:keyvalue, wasi:config and wasi:logging (docs/http.md), backed
by what a capsule component gets: a real `capsule run` serving guest/examples/python/http_visits
(componentize-py, the standard interfaces only). Its visit counter (atomics.increment) lives in
the route's storage space: it goes on across requests to a reused instance, across fresh
instances (`reuse = false`) and across a restart of the host on the same SQLite file; its
greeting is the route's [http.route.config]; each visit is a wasi:logging line in the host log.
Hostile: a route without storage grants is refused through wasi:keyvalue (the guest answers 403,
the denial is audited) while the others keep answering; one route cannot read another's keys,
by their name or by a path around it; a route's storage quota holds. `capsule ps` and /metrics
show each route's pool."""
import http.client
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, data_dir_with_cache, wait_for  # noqa: E402

ARGS = None

STORAGE = """
  [http.route.capabilities]
  "storage.read" = ["**"]
  "storage.write" = ["**"]
"""

MANIFEST = """
[host]
name = "http-services-e2e"
data_dir = "data"
components_dir = "{components}"

# A manifest declares at least one component; the routes below need none.
[[component]]
name = "web/echo"
path = "echo.wasm"

[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/visits"
wasm = "{components}/py_http_visits.wasm"
name = "web/visits"
instances = 1
memory = "{memory}"
  [http.route.config]
  greeting = "hej"
{storage}
[[http.route]]
path = "/fresh"
wasm = "{components}/py_http_visits.wasm"
name = "web/fresh"
instances = 1
reuse = false
memory = "{memory}"
{storage}
[[http.route]]
path = "/other"                  # no name: its instances are http/other/<n>
wasm = "{components}/py_http_visits.wasm"
memory = "{memory}"
{storage}
[[http.route]]
path = "/nogrants"               # declares storage, but the host grants it nothing
wasm = "{components}/py_http_visits.wasm"
name = "web/nogrants"
memory = "{memory}"
{storage}
[[http.route]]
path = "/static"
static = "ok\\n"

[grants."web/visits"]
"storage.read" = ["**"]
"storage.write" = ["**"]

[grants."web/fresh"]
"storage.read" = ["**"]
"storage.write" = ["**"]

[grants."http/other"]
"storage.read" = ["**"]
"storage.write" = ["**"]
storage_quota = {{ keys = 4 }}
"""


def visit_number(body):
    m = re.fullmatch(rb"(\w+), visit (\d+)\n", body)
    assert m, body
    return m.group(1).decode(), int(m.group(2))


class HttpProxyServices(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = pathlib.Path(cls.tmp.name)
        cls.manifest = cls.dir / "app.toml"
        cls.manifest.write_text(MANIFEST.format(components=ARGS.components, memory=ARGS.memory,
                                                storage=STORAGE))
        data_dir_with_cache(cls.dir / "data", ARGS.cache_dir)
        cls.start()

    @classmethod
    def start(cls):
        # A cold start compiles the 18 MB Python component (cached in data/cache after).
        cls.host = HostProcess(cls.manifest, ready_timeout=300)
        cls.address = cls.host.http_address()

    @classmethod
    def tearDownClass(cls):
        cls.host.kill()
        cls.tmp.cleanup()

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection(*self.address, timeout=60)
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def visit(self, route):
        status, body = self.request("GET", route)
        self.assertEqual(status, 200, body)
        return visit_number(body)

    def assert_canaries(self):
        self.assertEqual(self.request("GET", "/static"), (200, b"ok\n"))
        self.assertEqual(self.visit("/visits")[0], "hej")

    def test_count_goes_on_across_a_reused_instance_and_across_fresh_ones(self):
        first = self.visit("/visits")[1]
        self.assertEqual([self.visit("/visits")[1] for _ in range(3)],
                         [first + 1, first + 2, first + 3])
        # reuse = false: every request gets a new instance, whose memory starts empty; the count
        # is in the route's storage, so it still goes on.
        start = self.visit("/fresh")[1]
        self.assertEqual([self.visit("/fresh")[1] for _ in range(3)],
                         [start + 1, start + 2, start + 3])

    def test_the_greeting_is_the_routes_manifest_config(self):
        self.assertEqual(self.visit("/visits")[0], "hej")
        self.assertEqual(self.visit("/other")[0], "hello")  # no config: the guest's default

    def test_each_visit_is_a_wasi_logging_line_in_the_host_log(self):
        n = self.visit("/visits")[1]
        lines = self.host.wait_log(lambda e: e.get("msg") == f"visit {n}"
                                   and e.get("component", "").startswith("web/visits/"))
        self.assertTrue(lines, self.host.tail())
        self.assertEqual(lines[-1].get("context"), "http_visits")
        self.assertEqual(lines[-1].get("level"), "info")

    def test_a_route_without_storage_grants_is_refused_and_the_others_answer(self):
        status, body = self.request("GET", "/nogrants")
        self.assertEqual((status, body), (403, b"wasi:keyvalue: access-denied\n"))
        self.assertEqual(self.request("GET", "/nogrants/get?key=visits")[0], 403)
        self.assert_canaries()
        # The denial is audited under the route's own instance id.
        audit = self.dir / "data" / "audit.jsonl"

        def denied():
            if not audit.exists():
                return False
            records = [json.loads(line) for line in audit.read_text().splitlines() if line]
            return any(r.get("who", "").startswith("web/nogrants/") and not r.get("allowed", True)
                       and r.get("action", "").startswith("storage.") for r in records)
        self.assertTrue(wait_for(denied, 10), audit.read_text() if audit.exists() else "no audit")

    def test_routes_cannot_read_each_others_keys(self):
        self.assertEqual(self.request("PUT", "/visits/set?key=secret", body=b"s1")[0], 204)
        self.assertEqual(self.request("GET", "/visits/get?key=secret"), (200, b"s1"))
        # Same key, another route: its own space, where the key does not exist.
        self.assertEqual(self.request("GET", "/other/get?key=secret")[0], 404)
        self.assertEqual(self.request("PUT", "/other/set?key=secret", body=b"o1")[0], 204)
        self.assertEqual(self.request("GET", "/visits/get?key=secret"), (200, b"s1"))
        # A key that walks out of the space matches no grant.
        for key in ("../visits/secret", "../../web/visits/secret"):
            status, body = self.request("GET", f"/other/get?key={key}")
            self.assertNotEqual(status, 200, body)
            self.assertNotIn(b"s1", body)
        self.assert_canaries()

    def test_ps_shows_each_proxy_routes_pool_and_metrics_count_it(self):
        for _ in range(2):
            self.visit("/visits")
            self.visit("/fresh")
        ps = json.loads(capsule("ps", "--json", admin=self.host.admin).stdout)
        routes = {r["route"]: r for r in ps["routes"]}
        self.assertEqual(sorted(routes), ["/fresh", "/nogrants", "/other", "/visits"])
        visits, fresh = routes["/visits"], routes["/fresh"]
        self.assertEqual((visits["name"], visits["wasm"], visits["size"], visits["reuse"]),
                         ("web/visits", "py_http_visits.wasm", 1, True))
        # One instance, kept: instantiated once, idle between requests.
        self.assertEqual((visits["instantiated"], visits["idle"], visits["busy"], visits["failed"]),
                         (1, 1, 0, 0))
        self.assertGreaterEqual(visits["requests"]["2xx"], 2)
        # reuse = false: one instantiation per request, none kept.
        self.assertEqual(fresh["instantiated"], fresh["requests"]["2xx"])
        self.assertEqual(fresh["idle"], 0)
        text = capsule("ps", admin=self.host.admin).stdout
        self.assertIn("HTTP ROUTE", text)
        self.assertRegex(text, r"/visits\s+web/visits\s+py_http_visits.wasm\s+running\s+1\s+1\s+0")
        metrics = capsule("metrics", admin=self.host.admin).stdout
        self.assertIn('capsule_http_proxy_instantiations_total{route="/fresh",name="web/fresh"} '
                      f'{fresh["instantiated"]}', metrics)
        self.assertIn('capsule_http_proxy_instances{route="/visits",name="web/visits",state="idle"} 1',
                      metrics)

    def test_y_a_routes_storage_quota_holds_and_the_others_keep_storing(self):
        # Named to run after the tests that write to /other: it fills that route's quota.
        answers = [self.request("PUT", f"/other/set?key=q{i}", body=b"x") for i in range(6)]
        refused = [body for status, body in answers if status == 503]
        self.assertTrue(refused, answers)  # at most 4 keys in http/other's space
        self.assertTrue(all(b"quota-exceeded" in body for body in refused), refused)
        self.assertEqual(self.request("PUT", "/visits/set?key=q9", body=b"x")[0], 204)
        self.assert_canaries()

    def test_z_count_survives_a_host_restart_on_the_same_data_dir(self):
        # Named to run last: it replaces the class's host.
        before = self.visit("/visits")[1]
        fresh_before = self.visit("/fresh")[1]
        self.assertEqual(self.host.terminate(), 0, self.host.tail())
        self.host.kill()  # closes its output pipe
        type(self).start()
        self.assertEqual(self.visit("/visits"), ("hej", before + 1))
        self.assertEqual(self.visit("/fresh")[1], fresh_before + 1)


class HttpProxyServicesManifest(unittest.TestCase):
    def run_manifest(self, text):
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "bad.toml"
            path.write_text(text)
            r = subprocess.run([ARGS.capsule, "run", str(path)], capture_output=True, text=True,
                               timeout=60)
            return r.returncode, r.stdout + r.stderr

    def manifest(self):
        return MANIFEST.format(components=ARGS.components, memory=ARGS.memory, storage=STORAGE)

    def test_an_unknown_route_key_is_an_error_with_file_and_line(self):
        text = self.manifest().replace('name = "web/fresh"\n', 'name = "web/fresh"\ncolour = 1\n')
        line = text.splitlines().index("colour = 1") + 1
        code, out = self.run_manifest(text)
        self.assertNotEqual(code, 0)
        self.assertIn(f"bad.toml:{line}: http.route[1].colour: unknown field", out)

    def test_a_route_may_not_wear_a_components_name_or_the_hosts(self):
        code, out = self.run_manifest(self.manifest().replace('"web/fresh"', '"web/echo"'))
        self.assertNotEqual(code, 0)
        self.assertIn('http.route[1].name: "web/echo" is a [[component]] of this manifest', out)
        code, out = self.run_manifest(self.manifest().replace('name = "web/fresh"',
                                                              'name = "host/fresh"'))
        self.assertNotEqual(code, 0)
        self.assertIn("http.route[1].name: the namespace 'host' is reserved for the host", out)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="32MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
