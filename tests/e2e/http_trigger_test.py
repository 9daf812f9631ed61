#!/usr/bin/env python3
"""The HTTP trigger ([http] in the manifest, docs/http.md) of a real `capsule run`, driven over
real sockets: routes to real C components (guest/examples: hello, echo, trap, sleeper, ledger),
HTTP/1.1 keep-alive on one connection, every error status from a hostile client or a misbehaving
guest (slowloris, huge headers, huge body, bad Content-Length, a trap, a guest that sleeps past
the timeout, a guest denied a capability, a full mailbox, too many connections, no route) with a
canary request that must keep answering after each, the per-route metrics (accepted by promtool),
manifest errors with file:line, and the graceful drain on SIGTERM (a request in flight
completes)."""
import http.client
import json
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, UnixHTTPConnection, capsule, wait_for  # noqa: E402

MANIFEST = """
[host]
name = "http-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "web/hello"
path = "hello.wasm"
instances = 2

[[component]]
name = "web/echo"
path = "echo.wasm"

[[component]]
name = "web/trap"
path = "trap.wasm"
  [component.supervision]
  max_restarts = 1000
  window_ms = 1000
  backoff_ms = 1

[[component]]
name = "web/slow"
path = "sleeper.wasm"
instances = 2

# Holds one message while it sleeps on another: more are refused (mailbox full).
[[component]]
name = "web/busy"
path = "sleeper.wasm"
  [component.mailbox]
  capacity = 1
  policy = "error"

[[component]]
name = "web/drain"
path = "sleeper.wasm"

# Keeps its balance in component storage, but is granted no storage: every request is denied.
[[component]]
name = "web/ledger"
path = "ledger.wasm"

[http]
listen = "127.0.0.1:0"
max_connections = 8
max_header_bytes = "4KiB"
read_timeout_ms = 1500
keep_alive_timeout_ms = 1500

[[http.route]]
path = "/hello"
component = "web/hello"
max_body = "1KiB"

[[http.route]]
path = "/echo"
component = "web/echo"
envelope = "json"

[[http.route]]
path = "/trap"
component = "web/trap"

[[http.route]]
path = "/slow"
component = "web/slow"
request_timeout_ms = 300

[[http.route]]
path = "/busy"
component = "web/busy"

[[http.route]]
path = "/drain"
component = "web/drain"

[[http.route]]
path = "/ledger"
component = "web/ledger"

[[http.route]]
path = "/static"
static = "ok\\n"
"""


class Host:
    """A `capsule run` of MANIFEST (its output in `lines`) and the address of its HTTP trigger."""

    def __init__(self, directory, manifest=MANIFEST):
        path = pathlib.Path(directory) / "app.toml"
        path.write_text(manifest.format(components=ARGS.components))
        self.host = HostProcess(path)
        self.lines = self.host.lines
        self.address = self.host.http_address()

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection(*self.address, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            conn.close()

    def canary(self):
        """The host still answers a normal request with the component's reply."""
        return self.request("POST", "/hello", body=b"canary")[::2] == (200, b"hello, canary\n")

    def raw(self, data, timeout=5):
        """Sends `data` on a fresh connection; the whole answer (until the server closes)."""
        with socket.create_connection(self.address, timeout=timeout) as s:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer and close before all of `data` went out (a 431 for a
                # header it stopped reading): what it answered is still to be read.
                pass
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                out += chunk
            return out

    def metrics(self):
        conn = UnixHTTPConnection(self.host.admin)
        try:
            conn.request("GET", "/metrics")
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def stop(self):
        """SIGTERM; the exit status (0: a clean shutdown, and under ASan no error or leak)."""
        try:
            return self.host.terminate(timeout=60)
        finally:
            self.host.kill()


def status_of(answer):
    """The status code of a raw HTTP answer (0 when there is none)."""
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    return int(m.group(1)) if m else 0


def json_body(answer):
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def sample(text, name, **labels):
    """The value of one series of a scrape (None when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


class HttpTriggerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.h = Host(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        status = cls.h.stop()
        cls.tmp.cleanup()
        if status != 0:
            raise AssertionError(f"the host exited with {status}:\n" + cls.h.host.tail())

    def assert_error(self, status, body, want_status, component, cause):
        self.assertEqual(status, want_status, body)
        j = json.loads(body)
        self.assertEqual((j["ok"], j["status"], j["component"], j["error"]),
                         (False, want_status, component, cause), j)
        self.assertTrue(self.h.canary(), "the canary request failed after a " + str(want_status))

    def test_routes_reach_components(self):
        h = self.h
        self.assertEqual(h.request("GET", "/hello"), (200, "text/plain; charset=utf-8", b"hello, world\n"))
        self.assertEqual(h.request("POST", "/hello", b"bob")[2], b"hello, bob\n")
        # A prefix matches on segment boundaries only.
        self.assertEqual(h.request("PUT", "/hello/deeper/path", b"x")[::2], (200, b"hello, x\n"))
        status, _, body = h.request("GET", "/helloworld")
        self.assert_error(status, body, 404, "", "no-route")
        self.assertEqual(h.request("GET", "/static"), (200, "text/plain; charset=utf-8", b"ok\n"))
        # The json envelope: method, path, query and headers reach the guest (echo returns it).
        status, ctype, body = h.request("POST", "/echo/items?id=7&x=%20", b'{"a":1}',
                                        {"X-Trace": "abc", "Content-Type": "application/json"})
        self.assertEqual((status, ctype), (200, "application/json"), body)
        env = json.loads(body)
        self.assertEqual((env["method"], env["path"], env["query"], env["body"]),
                         ("POST", "/echo/items", "id=7&x=%20", '{"a":1}'))
        self.assertEqual(env["headers"]["x-trace"], "abc")

    def test_keep_alive_reuses_one_connection(self):
        conn = http.client.HTTPConnection(*self.h.address, timeout=10)
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()
        for i in range(50):
            conn.request("POST", "/hello", body=str(i).encode())
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (200, f"hello, {i}\n".encode()))
            self.assertIsNot(r.getheader("Connection"), "close")
        # http.client reconnects silently when the server closes: the socket must be the same.
        self.assertIs(conn.sock, sock)
        self.assertEqual(conn.sock.getsockname(), local)
        conn.close()

    def test_idle_kept_alive_connection_is_closed_after_its_timeout(self):
        with socket.create_connection(self.h.address, timeout=10) as s:
            s.sendall(b"GET /static HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok\n"):
                answer += s.recv(4096)
            self.assertEqual(status_of(answer), 200)
            t0 = time.monotonic()
            self.assertEqual(s.recv(4096), b"", "the server sent more than its answer")
            # keep_alive_timeout_ms = 1500; slack for a busy machine, and it must not be at once.
            self.assertGreater(time.monotonic() - t0, 1.0)
            self.assertLess(time.monotonic() - t0, 6)

    def test_trap_is_500_and_the_component_recovers(self):
        for _ in range(3):
            status, _, body = self.h.request("GET", "/trap")
            self.assert_error(status, body, 500, "web/trap", "trap")

    def test_guest_past_the_timeout_is_504(self):
        t0 = time.monotonic()
        status, _, body = self.h.request("POST", "/slow", b"2000")
        self.assertLess(time.monotonic() - t0, 1.9, "the answer waited for the guest")
        self.assert_error(status, body, 504, "web/slow", "timeout")

    def test_capability_denied_is_403(self):
        status, _, body = self.h.request("POST", "/ledger", b"balance")
        self.assert_error(status, body, 403, "web/ledger", "permission-denied")
        self.assertIn("storage", json.loads(body)["message"])

    def test_full_mailbox_is_503(self):
        # Four at once at a component holding one message while it handles another: at most two
        # are taken, the others are refused at once.
        results = []

        def one():
            results.append(self.h.request("POST", "/busy", b"700"))
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        statuses = sorted(r[0] for r in results)
        self.assertEqual(len(statuses), 4)
        self.assertGreaterEqual(statuses.count(503), 2, results)
        self.assertGreaterEqual(statuses.count(200), 1, results)
        refused = next(r for r in results if r[0] == 503)
        self.assert_error(503, refused[2], 503, "web/busy", "mailbox-full")

    def test_body_too_large_is_413_before_it_is_read(self):
        answer = self.h.raw(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        self.assertEqual(status_of(answer), 413, answer)
        self.assertEqual(json_body(answer)["component"], "web/hello")
        # With "Expect: 100-continue" the refusal comes instead of "100 Continue": no body is sent.
        answer = self.h.raw(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
                            b"Expect: 100-continue\r\n\r\n")
        self.assertEqual(status_of(answer), 413, answer)
        # The unread body's bytes end the connection: what follows is never parsed as a request
        # (here a whole pipelined request, which must not be answered).
        for refused, status in ((b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", 413),
                                (b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", 404)):
            answer = self.h.raw(refused + b"GET /static HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual((status_of(answer), answer.count(b"HTTP/1.1 ")), (status, 1), answer)
        # The body sent along, as most clients do, while the answer is read: it must arrive (a
        # close with unread bytes resets the connection, and the reset can overtake it).
        for size in (300_000, 3_000_000):
            self.assertEqual(status_of(self.upload("/hello", size)), 413, size)
        # Chunked, with no length up front: refused too once read past the route's limit.
        chunk = b"a" * 2048
        answer = self.h.raw(b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                            b"800\r\n" + chunk + b"\r\n0\r\n\r\n")
        self.assertEqual(status_of(answer), 413, answer)
        self.assertTrue(self.h.canary())

    def upload(self, path, size):
        """POSTs `size` bytes from another thread while this one reads the answer (up to the
        server's close, or a reset); the answer read."""
        s = socket.create_connection(self.h.address, timeout=10)

        def send():
            try:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
                          .encode() + b"b" * size)
            except OSError:
                pass  # the server stopped reading: expected once it has refused the body
        sender = threading.Thread(target=send)
        sender.start()
        answer = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        sender.join(timeout=30)
        s.close()
        return answer

    def test_headers_too_large_are_431(self):
        many = "".join(f"X-Filler-{i}: {'v' * 200}\r\n" for i in range(40)).encode()
        answer = self.h.raw(b"GET /hello HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertEqual(status_of(answer), 431, answer)
        # One header line of a megabyte: cut off while it is read, not buffered whole.
        answer = self.h.raw(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * (1 << 20) +
                            b"\r\n\r\n", timeout=10)
        self.assertEqual(status_of(answer), 431, answer[:200])
        self.assertTrue(self.h.canary())

    def test_bad_content_length_is_400(self):
        for value in (b"abc", b"-1", b"12 34"):
            answer = self.h.raw(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: " + value +
                                b"\r\n\r\nhello")
            self.assertEqual(status_of(answer), 400, answer)
            self.assertEqual(json_body(answer)["error"], "bad-request")
        answer = self.h.raw(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                            b"Content-Length: 4\r\n\r\nabcd")
        self.assertEqual(status_of(answer), 400, answer)
        answer = self.h.raw(b"NOT-HTTP\r\n\r\n")
        self.assertIn(status_of(answer), (0, 400), answer)
        self.assertTrue(self.h.canary())

    def test_slowloris_is_cut_off_while_others_are_served(self):
        s = socket.create_connection(self.h.address, timeout=10)
        t0 = time.monotonic()
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        closed_after = None
        canaries = 0
        # One header byte every 100 ms: each read is quick, the request never ends.
        while time.monotonic() - t0 < 8:
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - t0
                break
            s.settimeout(0.1)
            try:
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - t0
                break
            if canaries < 3:
                self.assertTrue(self.h.canary(), "the canary failed while a slowloris was connected")
                canaries += 1
        s.close()
        self.assertIsNotNone(closed_after, "a dripping client was never cut off")
        # read_timeout_ms = 1500 bounds the whole request; generous slack for a busy machine.
        self.assertLess(closed_after, 6)
        self.assertTrue(self.h.canary())

    def test_connections_past_the_limit_get_503(self):
        idle = []
        try:
            for _ in range(8):  # max_connections: each holds a thread until read_timeout_ms
                idle.append(socket.create_connection(self.h.address, timeout=10))
            self.assertTrue(wait_for(lambda: re.search(r"(?m)^capsule_http_connections 8$",
                                                       self.h.metrics()), timeout=5),
                            "the idle connections were not all admitted")
            answer = self.h.raw(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status_of(answer), 503, answer)
            self.assertEqual(json_body(answer)["error"], "overloaded")
        finally:
            for s in idle:
                s.close()
        self.assertTrue(wait_for(self.h.canary, timeout=10))
        self.assertRegex(self.h.metrics(), r"(?m)^capsule_http_connections_refused_total [1-9]")

    def test_metrics_count_by_route_and_status_class_and_promtool_accepts_them(self):
        before = sample(self.h.metrics(), "capsule_http_requests_total", route="/hello",
                        component="web/hello", status_class="2xx") or 0
        for _ in range(5):
            self.assertTrue(self.h.canary())
        self.h.request("GET", "/nowhere")
        text = self.h.metrics()
        after = sample(text, "capsule_http_requests_total", route="/hello", component="web/hello",
                       status_class="2xx")
        self.assertGreaterEqual(after - before, 5)
        self.assertGreaterEqual(sample(text, "capsule_http_requests_total", route="", component="",
                                       status_class="4xx"), 1)
        self.assertGreaterEqual(sample(text, "capsule_http_request_duration_seconds_count",
                                       route="/hello", component="web/hello"), after)
        r = subprocess.run([ARGS.promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))


class ManifestErrorsTest(unittest.TestCase):
    def check(self, http_text, expected):
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "bad.toml"
            path.write_text(f'[host]\ncomponents_dir = "{ARGS.components}"\n\n'
                            f'[[component]]\nname = "web/hello"\npath = "hello.wasm"\n\n{http_text}')
            r = capsule("run", str(path), check=False, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(expected, r.stderr)

    def test_errors_name_file_line_and_field(self):
        self.check('[http]\nlisten = "127.0.0.1:0"\n\n[[http.route]]\npath = "/x"\ncomponent = "web/nope"\n',
                   'bad.toml:13: http.route[0].component: "web/nope" is not a [[component]]')
        self.check('[http]\nlisten = "127.0.0.1:0"\n\n[[http.route]]\npath = "/x"\n'
                   'component = "web/hello"\nmax_body = "lots"\n',
                   'bad.toml:14: http.route[0].max_body: expected a size')
        self.check('[http]\nlisten = "127.0.0.1:0"\nmax_connections = 0\n'
                   '[[http.route]]\npath = "/x"\nstatic = "y"\n',
                   'bad.toml:10: http.max_connections: expected a whole number from 1 to 10000')
        self.check('[http]\nlisten = "127.0.0.1:0"\n[[http.route]]\npath = "x"\nstatic = "y"\n',
                   'bad.toml:11: http.route[0].path: expected an absolute path prefix')
        self.check('[http]\nlisten = "nohost"\n[[http.route]]\npath = "/x"\nstatic = "y"\n',
                   'bad.toml:9: http.listen: expected host:port')
        self.check('[http]\nlisten = "127.0.0.1:0"\n[[http.route]]\npath = "/x"\n',
                   'bad.toml:10: http.route[0].needs exactly one of component')


class GracefulDrainTest(unittest.TestCase):
    def test_sigterm_lets_the_request_in_flight_finish(self):
        with tempfile.TemporaryDirectory() as d:
            h = Host(d)
            try:
                result = {}

                def slow():
                    result["answer"] = h.request("POST", "/drain", b"1200", timeout=30)
                t = threading.Thread(target=slow)
                t.start()
                # The request is being handled (the guest sleeps) when SIGTERM comes.
                self.assertTrue(wait_for(lambda: re.search(
                    r'(?m)^capsule_http_connections 1$', h.metrics()), timeout=10))
                time.sleep(0.2)
                h.host.proc.send_signal(signal.SIGTERM)
                t.join(timeout=30)
                self.assertEqual(result.get("answer"), (200, "text/plain; charset=utf-8", b"slept 1200"))
                self.assertEqual(h.host.proc.wait(timeout=30), 0)
            finally:
                h.stop()
            messages = [json.loads(line).get("msg") for line in h.lines]
            self.assertIn("http trigger stopped", messages)
            # Drained before the components stopped: the trigger's line comes first.
            self.assertLess(messages.index("http trigger stopped"), messages.index("stopped"))


if __name__ == "__main__":
    parser = capsule_process.argparse.ArgumentParser()
    parser.add_argument("--promtool", required=True)
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
