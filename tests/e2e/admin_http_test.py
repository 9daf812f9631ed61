#!/usr/bin/env python3
"""The admin endpoint against malformed and hostile HTTP clients, on a real `capsule run` host:
bad Content-Length values, huge headers and request lines, slowloris connections, bodies over
the limit, wrong JSON types, non-JSON bodies, unknown routes and methods, requests from web
pages (Origin) and rebound names (Host), on the host's TCP listener (with its bearer token, so
each case reaches as far as a real client's would). Each must get a 4xx JSON error (or be dropped, for a
stalled client) while the daemon keeps serving: after every case a canary request (`POST /v1/call`
to an echo) must answer, and stalled clients must not hold it up (it is answered while they are
still connected).

Nothing is gated on time: every wait is bounded generously for a loaded machine, and a slow answer
is a failure only where it is no answer at all. A failing case prints the request it sent and the
tail of the daemon's output (stdout and stderr). Every child process is killed on the way out."""
import json
import pathlib
import select
import socket
import sys
import tempfile
import threading
import time
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess  # noqa: E402

# How long one request may take to be answered before the test calls it a hang. Far above any
# answer of an idle machine (milliseconds), so a loaded one (ctest -j, other builds) passes too.
ANSWER_TIMEOUT = 30.0

MANIFEST = """
[host]
name = "admin-http"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "demo/echo"
path = "echo.wasm"
"""


class AdminHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        manifest = pathlib.Path(cls.tmp.name) / "app.toml"
        manifest.write_text(MANIFEST.format(components=ARGS.components))
        cls.host = HostProcess(manifest, "127.0.0.1:0")
        host, port = cls.host.tcp.rsplit(":", 1)
        cls.address = (host, int(port))
        cls.auth = f"Authorization: Bearer {cls.host.token()}"

    @classmethod
    def tearDownClass(cls):
        cls.host.kill()
        cls.tmp.cleanup()

    def run(self, result=None):
        """Runs the test; when it failed, prints what it last sent and the daemon's output."""
        result = result or self.defaultTestResult()
        problems = len(result.failures) + len(result.errors)
        self.last_request = None
        super().run(result)
        if len(result.failures) + len(result.errors) > problems:
            print(f"\n--- {self.id()} failed; its last request began {self.last_request!r}; "
                  f"the daemon is {'running' if self.host.proc.poll() is None else 'gone'}, "
                  f"its last output:\n{self.host.tail(60)}---", file=sys.stderr)
        return result

    def raw(self, data, timeout=ANSWER_TIMEOUT):
        """Sends `data` as is on a new connection; returns (status, parsed JSON body or text), or
        (None, None) when the server closed the connection without an answer."""
        self.last_request = data[:120]
        chunks = []
        with socket.create_connection(self.address, timeout=timeout) as s:
            try:
                s.sendall(data)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if b"\r\n\r\n" in b"".join(chunks) and self._complete(b"".join(chunks)):
                        break
            except (ConnectionResetError, BrokenPipeError):
                # The server refused before reading everything (a huge header block): it closes
                # with our bytes unread, and the kernel answers the rest with a reset - which can
                # come before, or instead of, its error reply depending on scheduling.
                pass
            except socket.timeout:
                if b"\r\n\r\n" not in b"".join(chunks):
                    self.fail(f"no answer within {timeout} s to {data[:80]!r} "
                              f"(got {b''.join(chunks)[:200]!r})")
        reply = b"".join(chunks)
        if not reply:
            return None, None  # the server closed the connection without an answer
        self.assertTrue(reply.startswith(b"HTTP/1.1 "), f"no HTTP answer to {data[:80]!r}: {reply[:200]!r}")
        head, _, body = reply.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    @staticmethod
    def _complete(reply):
        head, _, body = reply.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return len(body) >= int(line.split(b":")[1])
        return False

    def request(self, method, path, body=b"", headers=()):
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
                 "Connection: close", self.auth, *headers]
        return self.raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def assert_error(self, answer, status, words):
        code, body = answer
        self.assertEqual(code, status, body)
        self.assertIsInstance(body, dict, f"not a JSON error: {body!r}")
        self.assertFalse(body.get("ok", True), body)
        text = json.dumps(body)
        for w in words:
            self.assertIn(w, text)

    def assert_still_serving(self):
        """A canary call is answered (raw() fails the test if it is not, within ANSWER_TIMEOUT)."""
        self.assertIsNone(self.host.proc.poll(), "the daemon died")
        t0 = time.monotonic()
        status, body = self.request("POST", "/v1/call",
                                    json.dumps({"target": "demo/echo/0", "payload": "canary"}).encode())
        took = time.monotonic() - t0
        self.assertEqual(status, 200, f"canary after {took:.2f} s: {body}")
        self.assertIn("canary", json.dumps(body))

    def assert_refused(self, answer, what):
        """A 4xx JSON error, or - where cpp-httplib 0.11 cannot frame the request at all - the
        connection closed without an answer; never a 2xx/5xx."""
        code, body = answer
        if code is None:
            return
        self.assertGreaterEqual(code, 400, f"{what}: {body}")
        self.assertLess(code, 500, f"{what}: {body}")
        self.assertIsInstance(body, dict, f"{what}: not a JSON error: {body!r}")

    def test_bad_content_length(self):
        for value in ("abc", "-5", "99999999999999999999999", "1 2", "", "0x10"):
            data = (f"POST /v1/call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {value}\r\n"
                    f"{self.auth}\r\nConnection: close\r\n\r\n{{}}").encode()
            self.assert_refused(self.raw(data), f"Content-Length {value!r}")
            self.assert_still_serving()

    def test_huge_headers_and_request_line(self):
        self.assert_refused(self.request("GET", "/v1/ps", headers=["X-Big: " + "a" * 20000]),
                            "a 20 KB header line")
        self.assert_still_serving()
        many = [f"X-H{i}: " + "b" * 4000 for i in range(300)]  # ~1.2 MB of headers
        answer = self.request("GET", "/v1/ps", headers=many)
        self.assert_refused(answer, "1.2 MB of headers")
        if answer[0] is not None:
            self.assert_error(answer, 431, ["headers too large"])
        self.assert_still_serving()
        self.assert_refused(self.request("GET", "/" + "p" * 20000), "a 20 KB request line")
        self.assert_still_serving()

    def test_body_over_the_limit(self):
        data = (f"POST /v1/call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {17 << 20}\r\n"
                f"{self.auth}\r\nConnection: close\r\n\r\n").encode()
        answer = self.raw(data)
        self.assert_refused(answer, "a 17 MiB body announced")
        if answer[0] is not None:
            self.assertEqual(answer[0], 413, answer[1])
        self.assert_still_serving()

    @staticmethod
    def _connected(s):
        """True while the server has neither answered nor closed `s`: nothing to read yet (an
        answer, an end of file and a reset would all make it readable)."""
        return not select.select([s], [], [], 0)[0]

    def test_slowloris_does_not_block_others_and_is_dropped(self):
        # 8 stalled clients hold 8 of the server's 16 connection threads until its read timeout
        # (2 s) drops them. A server that made others wait behind them would answer the canary
        # only once they were dropped; so the canary must be answered while they are all still
        # connected. A loaded machine may take longer than the read timeout for one canary: a
        # few rounds, of which one must show it (a server that waits behind them never does).
        answered_while_stalled = False
        for _ in range(5):
            stalled = []
            try:
                for _ in range(8):
                    s = socket.create_connection(self.address, timeout=ANSWER_TIMEOUT)
                    s.sendall(b"POST /v1/call HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
                    stalled.append(s)
                self.assert_still_serving()
                if all(self._connected(s) for s in stalled):
                    answered_while_stalled = True
                # The server drops each stalled request after its read timeout.
                for s in stalled:
                    try:
                        data = s.recv(4096)
                    except ConnectionResetError:
                        data = b""
                    except socket.timeout:
                        self.fail(f"a stalled connection was kept open {ANSWER_TIMEOUT} s")
                    # an answer (408/400) or EOF: either way the server let go
                    self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 4"), data[:100])
            finally:
                for s in stalled:
                    s.close()
            if answered_while_stalled:
                break
        self.assertTrue(answered_while_stalled,
                        "in every round the canary was answered only after the stalled clients "
                        "were dropped: it waited behind them")
        self.assert_still_serving()

    def test_wrong_json_types(self):
        cases = [
            ({"target": 5, "payload": "x"}, ["target"]),
            ({"target": "demo/echo/0", "payload": "x", "timeout_ms": "soon"}, ["timeout_ms"]),
            ({"target": "demo/echo/0", "payload": ["x"]}, ["payload"]),
            ([1, 2, 3], ["JSON object"]),
        ]
        for body, words in cases:
            answer = self.request("POST", "/v1/call", json.dumps(body).encode())
            self.assert_error(answer, 400, words)
            self.assert_still_serving()
        self.assert_error(self.request("POST", "/v1/send", b"{not json"), 400, ["JSON"])
        self.assert_error(self.request("POST", "/v1/stop", b"\xff\xfe\x00garbage"), 400, ["JSON"])
        self.assert_still_serving()

    def test_unknown_routes_and_methods(self):
        self.assert_error(self.request("GET", "/nope"), 404, ["not an admin endpoint"])
        self.assert_error(self.request("POST", "/v1/ps"), 404, ["not an admin endpoint"])
        code, body = self.request("DELETE", "/v1/ps")
        self.assertGreaterEqual(code, 400, body)
        self.assertLess(code, 500, body)
        code, body = self.raw(b"BREW /coffee HTCPCP/1.0\r\n\r\n")
        self.assertGreaterEqual(code, 400, body)
        self.assertLess(code, 500, body)
        self.assert_still_serving()

    def test_web_pages_and_rebound_names_are_refused(self):
        call = json.dumps({"target": "demo/echo/0", "payload": "from a web page"}).encode()
        # A cross-site form or fetch: the browser names the page's origin.
        for origin in ("http://evil.example", "null", "https://127.0.0.1.evil.example",
                       f"http://127.0.0.1:{self.address[1] + 1}"):
            self.assert_error(self.request("POST", "/v1/call", call, headers=[f"Origin: {origin}"]),
                              403, ["web pages are refused"])
        # DNS rebinding: evil.example now resolves to 127.0.0.1, the Host header still says so.
        self.assert_error(self.raw(("POST /v1/stop HTTP/1.1\r\nHost: evil.example:"
                                    f"{self.address[1]}\r\nContent-Length: 2\r\n"
                                    "Connection: close\r\n\r\n{}").encode()),
                          403, ["not this admin endpoint"])
        # The endpoint's own origin (a tool on this machine) is served.
        status, body = self.request("POST", "/v1/call", call,
                                    headers=[f"Origin: http://127.0.0.1:{self.address[1]}"])
        self.assertEqual(status, 200, body)
        self.assert_still_serving()

    def test_many_concurrent_clients(self):
        errors = []

        def client():
            try:
                for _ in range(20):
                    status, _ = self.request("GET", "/v1/ps")
                    if status != 200:
                        errors.append(status)
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                errors.append(repr(e))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(16)]
        for t in threads:
            t.start()
        # Each request is bounded by ANSWER_TIMEOUT: a thread still running is a hang.
        deadline = time.monotonic() + 20 * ANSWER_TIMEOUT
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self.assertEqual([t.name for t in threads if t.is_alive()], [], "clients still waiting")
        self.assertEqual(errors, [])
        self.assert_still_serving()


if __name__ == "__main__":
    ARGS, rest = capsule_process.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
