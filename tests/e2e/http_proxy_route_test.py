#!/usr/bin/env python3
"""wasi:http/proxy components behind the HTTP trigger ([[http.route]] with `wasm = ...`,
docs/http.md) of a real `capsule run`: the hello-world built with componentize-py (the upstream
toolchain, shaped as its own http example) and one built from C with wit-bindgen answer through
the host's listener with their own status, headers and body; a request body is echoed byte for
byte; more concurrent requests than instances all get their answer; an instance keeps its state
from request to request unless the route says `reuse = false`; a capsule:core component
given as `wasm` is refused at start naming the route's line; a static canary answers throughout."""
import http.client
import pathlib
import subprocess
import sys
import tempfile
import threading
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess  # noqa: E402

MANIFEST = """
[host]
name = "http-proxy-e2e"
data_dir = "data"
components_dir = "{components}"

# A manifest declares at least one component; the routes below need none.
[[component]]
name = "web/echo"
path = "echo.wasm"

[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/py"
wasm = "{components}/py_http_hello.wasm"
instances = 2
memory = "32MiB"

[[http.route]]
path = "/echo"
wasm = "{components}/py_http_hello.wasm"
instances = 2
memory = "32MiB"

[[http.route]]
path = "/c"
wasm = "{components}/c_http_hello.wasm"

[[http.route]]
path = "/reused"
wasm = "{components}/py_http_hello.wasm"
instances = 1
memory = "32MiB"

[[http.route]]
path = "/single"
wasm = "{components}/py_http_hello.wasm"
instances = 1
memory = "32MiB"

[[http.route]]
path = "/fresh"
wasm = "{components}/py_http_hello.wasm"
instances = 1
reuse = false
memory = "32MiB"

[[http.route]]
path = "/static"
static = "ok\\n"
"""


class HttpProxyRouteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = pathlib.Path(cls.tmp.name) / "app.toml"
        path.write_text(MANIFEST.format(components=ARGS.components))
        # Compiling a componentize-py component takes ~20 s cold (docs/benchmarks.md).
        cls.host = HostProcess(path, ready_timeout=240)
        cls.address = cls.host.http_address()

    @classmethod
    def tearDownClass(cls):
        cls.host.kill()
        cls.tmp.cleanup()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(*self.address, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def assert_canary(self):
        self.assertEqual(self.request("GET", "/static")[::2], (200, b"ok\n"))

    def test_python_hello_world_answers_through_the_trigger(self):
        status, headers, body = self.request("GET", "/py")
        self.assertEqual((status, body), (200, b"hello from python"))
        self.assertEqual(headers.get("x-hello"), "capsule")
        self.assert_canary()

    def test_c_hello_world_answers_through_the_trigger(self):
        status, _, body = self.request("GET", "/c")
        self.assertEqual(status, 200, body)
        self.assertIn(b"hello", body)
        self.assert_canary()

    def test_request_body_is_echoed_byte_for_byte(self):
        payload = bytes(range(256)) * 64
        status, headers, body = self.request(
            "POST", "/echo", body=payload, headers={"Content-Type": "application/x-test"})
        self.assertEqual(status, 200)
        self.assertEqual(body, payload)
        self.assertEqual(headers.get("Content-Type"), "application/x-test")

    def test_more_concurrent_requests_than_instances_all_answer(self):
        answers = [None] * 8

        def one(i):
            answers[i] = self.request("POST", "/echo", body=f"r{i}".encode())[::2]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(answers, [(200, f"r{i}".encode()) for i in range(8)])

    def test_concurrent_requests_never_use_more_instances_than_the_route_has(self):
        # One instance: whether a request runs on its connection's thread (the slot was free) or
        # waits on the route's threads, it is served by that one instance, so the counts it
        # answers are one sequence with no number twice.
        counts = [None] * 16

        def one(i):
            status, _, body = self.request("GET", "/single/count")
            counts[i] = (status, body)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertTrue(all(c is not None and c[0] == 200 for c in counts), counts)
        numbers = sorted(int(body.split()[1]) for _, body in counts)
        self.assertEqual(numbers, list(range(1, 17)))
        self.assert_canary()

    def test_reuse_keeps_an_instance_and_reuse_false_gives_each_request_a_fresh_one(self):
        # One instance per route: the count is that instance's, in the order sent.
        reused = [self.request("GET", "/reused/count")[::2] for _ in range(3)]
        fresh = [self.request("GET", "/fresh/count")[::2] for _ in range(3)]
        self.assertEqual(reused, [(200, f"count {n}".encode()) for n in (1, 2, 3)])
        self.assertEqual(fresh, [(200, b"count 1")] * 3)
        self.assert_canary()

    def test_a_capsule_component_as_wasm_is_refused_naming_the_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "bad.toml"
            path.write_text(MANIFEST.format(components=ARGS.components)
                            .replace("c_http_hello.wasm", "echo.wasm"))
            r = subprocess.run([ARGS.capsule, "run", str(path)], capture_output=True, text=True,
                               timeout=240)
            self.assertNotEqual(r.returncode, 0)
            out = r.stdout + r.stderr
            self.assertIn("echo.wasm is a capsule:core component, not a wasi:http/proxy one", out)
            self.assertIn("http route /c (line ", out)
        self.assert_canary()


if __name__ == "__main__":
    ARGS, rest = capsule_process.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
