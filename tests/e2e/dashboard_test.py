#!/usr/bin/env python3
"""The live dashboard of a real `capsule run` host (docs/cli.md, "Dashboard"):
* its door: a one-time code from `capsule dashboard` becomes an HttpOnly, SameSite=Strict session
  cookie of that TCP listener; no cookie, a wrong or spent code, a foreign Origin or Host, a
  forged cookie, or a session POST without its Origin are refused, and the daemon keeps serving;
* its event streams: bounded (a clear 503 past the bound), admin calls answered while they are
  all open, a vanished browser frees its place, and a shutdown with streams open ends them;
* its failures panel: traps and a supervisor giving up;
* in a cluster, the hosts it shows are the cluster's;
* a real browser (headless Debian Chromium driven by playwright-core, tests/e2e/dashboard/):
  the numbers move as messages flow, restart through the confirmation dialog raises the restart
  count, upgrade refuses a file outside upgrade_dirs and takes one inside, and a screenshot is
  saved (--screenshot).
Bounded in time; every child process is killed on the way out."""
import argparse
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "cluster"))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402
import nats_process  # noqa: E402

ARGS = None
MAX_STREAMS = 8  # Dashboard::kMaxStreams

MANIFEST = """
[host]
name = "dash"
components_dir = "{components}"

[[component]]
name = "demo/echo"
path = "echo.wasm"
instances = 2
"""


def request(port, method, path, headers=(), body=b"", timeout=5.0):
    """One request on a new TCP connection; returns (status, headers dict (lower-case), body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
                 f"Content-Length: {len(body)}", "Connection: close", *headers]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    fields = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        fields.setdefault(k.strip().lower(), v.strip())
    return int(status_line.split()[1]), fields, payload


def open_stream(port, headers):
    """GET /v1/events, left open; returns (socket, the bytes read up to the first snapshot)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = ["GET /v1/events HTTP/1.1", f"Host: 127.0.0.1:{port}", *headers]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    seen = b""
    deadline = time.time() + 15
    while b"event: snapshot" not in seen and b"\r\n\r\n{" not in seen and time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        seen += chunk
    return s, seen


class Dashboard(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        (self.dir / "app.toml").write_text(MANIFEST.format(components=ARGS.components))
        self.host = HostProcess(self.dir / "app.toml", "127.0.0.1:0")
        self.port = int(self.host.tcp.rsplit(":", 1)[1])
        self.origin = f"Origin: http://127.0.0.1:{self.port}"

    def tearDown(self):
        self.host.kill()
        self.tmp.cleanup()

    def login_url(self):
        r = capsule("dashboard", admin=self.host.admin)
        url = r.stdout.strip()
        self.assertRegex(url, rf"^http://127\.0\.0\.1:{self.port}/dashboard/login\?code=[0-9a-f]{{64}}$")
        return url.split(str(self.port), 1)[1]  # the path and query

    def login(self):
        status, headers, _ = request(self.port, "GET", self.login_url())
        self.assertEqual(status, 303)
        return headers["set-cookie"].split(";", 1)[0]

    def canary(self):
        """A token call right after a refusal: answered by a live daemon."""
        status, _, body = request(self.port, "POST", "/v1/call",
                                  [f"Authorization: Bearer {self.host.token()}"],
                                  json.dumps({"target": "demo/echo/0", "payload": "canary"}).encode())
        self.assertEqual(status, 200, body)
        self.assertIsNone(self.host.proc.poll(), "the daemon died")

    def admin_audit(self):
        lines = (self.host.data_dir / "audit.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r.get("kind") == "admin"]

    def test_the_door(self):
        # Nothing without a session or the token: the page, its stream, its snapshot.
        for path in ("/dashboard/", "/dashboard/app.js", "/v1/events", "/v1/dashboard"):
            status, _, body = request(self.port, "GET", path)
            self.assertEqual(status, 401, path)
            self.assertIn("Authorization: Bearer", json.loads(body)["error"]["message"])
        self.canary()

        # A wrong code; a code asked for over TCP without the token.
        status, _, body = request(self.port, "GET", "/dashboard/login?code=" + "0" * 64)
        self.assertEqual(status, 403)
        self.assertIn("unknown, used or expired dashboard code", json.loads(body)["error"]["message"])
        status, _, _ = request(self.port, "GET", "/dashboard/login")
        self.assertEqual(status, 403)
        status, _, _ = request(self.port, "POST", "/v1/dashboard-code", body=b"{}")
        self.assertEqual(status, 401)
        self.canary()

        # A link opened from another site (Origin) or through another name (Host): refused
        # before the code is looked at, so the code still works afterwards.
        path = self.login_url()
        status, _, _ = request(self.port, "GET", path, ["Origin: http://evil.example"])
        self.assertEqual(status, 403)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: evil.example:{self.port}\r\nConnection: close\r\n\r\n".encode())
            self.assertIn(b" 403 ", s.recv(4096).split(b"\r\n")[0])
        status, headers, _ = request(self.port, "GET", path)
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/dashboard/")
        cookie_attrs = headers["set-cookie"]
        self.assertIn(f"capsule_session_{self.port}=", cookie_attrs)
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, cookie_attrs)
        cookie = "Cookie: " + cookie_attrs.split(";", 1)[0]
        # Good once.
        status, _, _ = request(self.port, "GET", path)
        self.assertEqual(status, 403)

        # The session opens the page and its data.
        status, headers, body = request(self.port, "GET", "/dashboard/", [cookie])
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers["content-type"])
        self.assertIn("default-src 'self'", headers["content-security-policy"])
        self.assertIn(b'src="/dashboard/app.js"', body)
        status, _, body = request(self.port, "GET", "/v1/dashboard", [cookie])
        self.assertEqual(status, 200)
        snap = json.loads(body)
        self.assertEqual(sorted(i["id"] for i in snap["instances"]), ["demo/echo/0", "demo/echo/1"])
        self.assertEqual(snap["supervision"][0]["members"][0]["component"], "demo/echo")

        # A session's actions must come from the page: its Origin, never another's, never none.
        restart = json.dumps({"component": "demo/echo"}).encode()
        status, _, body = request(self.port, "POST", "/v1/restart", [cookie], restart)
        self.assertEqual(status, 403)
        self.assertIn("must carry the page's Origin", json.loads(body)["error"]["message"])
        status, _, _ = request(self.port, "POST", "/v1/restart", [cookie, "Origin: http://evil.example"], restart)
        self.assertEqual(status, 403)
        status, _, body = request(self.port, "POST", "/v1/restart", [cookie, self.origin], restart)
        self.assertEqual(status, 200, body)
        ps = json.loads(capsule("ps", "--json", admin=self.host.admin).stdout)
        self.assertEqual({i["operator_restarts"] for i in ps["instances"]}, {1})

        # A forged session, or one for another listener's port, is no session.
        for forged in (f"Cookie: capsule_session_{self.port}={'a' * 64}",
                       "Cookie: " + cookie_attrs.split(";", 1)[0].replace(str(self.port), str(self.port + 1))):
            status, _, _ = request(self.port, "GET", "/dashboard/", [forged])
            self.assertEqual(status, 401, forged)
        self.canary()

        # The audit log names the session as the restart's caller, and keeps the refusals.
        records = self.admin_audit()
        restarts = [r for r in records if r["action"] == "admin.restart" and r["allowed"]]
        self.assertEqual(len(restarts), 1, records)
        self.assertTrue(restarts[0]["who"].startswith("session@127.0.0.1:"), restarts[0])
        self.assertTrue(any(r["action"] == "admin.dashboard-login" and not r["allowed"] for r in records))
        self.assertTrue(any(r["action"] == "admin.dashboard-login" and r["allowed"] for r in records))
        # ... and the dashboard shows the refusals as denials, and never the token it printed.
        status, _, body = request(self.port, "GET", "/v1/dashboard", [cookie])
        snap = json.loads(body)
        self.assertTrue(any(d["kind"] == "admin" for d in snap["denials"]))
        self.assertTrue(any("admin token created" in line["msg"] for line in snap["log"]))
        self.assertNotIn(self.host.token(), body.decode())

    def test_no_tcp_listener_no_dashboard_link(self):
        other = self.dir / "solo"
        other.mkdir()
        (other / "app.toml").write_text(MANIFEST.format(components=ARGS.components))
        solo = HostProcess(other / "app.toml")
        try:
            r = capsule("dashboard", admin=solo.admin, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("--admin 127.0.0.1:<port>", r.stderr)
            # The Unix socket serves the page itself (its file mode is its door).
            conn = capsule_process.UnixHTTPConnection(solo.admin)
            conn.request("GET", "/dashboard/")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            solo.kill()

    def test_streams_are_bounded_and_never_block_shutdown(self):
        token = f"Authorization: Bearer {self.host.token()}"
        streams = []
        try:
            for _ in range(MAX_STREAMS):
                s, seen = open_stream(self.port, [token])
                self.assertIn(b"text/event-stream", seen)
                streams.append(s)
            # One more: a clear 503, while admin calls are still answered promptly.
            status, _, body = request(self.port, "GET", "/v1/events", [token])
            self.assertEqual(status, 503)
            self.assertIn(f"too many dashboard streams open ({MAX_STREAMS})", json.loads(body)["error"]["message"])
            t0 = time.monotonic()
            self.canary()
            self.assertEqual(len(self.host.instances()), 2)
            print(f"admin calls with {MAX_STREAMS} streams open: {time.monotonic() - t0:.3f} s")
            # A browser that goes away frees its place (noticed at the stream's next write).
            streams.pop().close()
            self.assertTrue(self._stream_admitted_again(token))
            # SIGTERM with every stream open: the host says bye on each and exits.
            t0 = time.monotonic()
            self.assertEqual(self.host.terminate(timeout=30), 0)
            print(f"shutdown with {len(streams)} streams open: {time.monotonic() - t0:.2f} s")
            for s in streams:
                s.settimeout(10)
                rest = b""
                while chunk := s.recv(65536):
                    rest += chunk
                self.assertIn(b"event: bye", rest)
        finally:
            for s in streams:
                s.close()

    def _stream_admitted_again(self, token):
        """True once a new stream is admitted (within 20 s) after one client left."""
        deadline = time.time() + 20
        while time.time() < deadline:
            s, seen = open_stream(self.port, [token])
            if b" 200 " in seen.split(b"\r\n")[0]:
                self.addCleanup(s.close)
                return True
            s.close()
            time.sleep(0.2)
        return False

    def test_in_a_real_browser(self):
        chromium = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
        playwright = pathlib.Path(ARGS.playwright)
        missing = [what for what, there in (("/usr/bin/chromium (apt-get install chromium)", chromium),
                                            (f"playwright-core in {playwright} (scripts/bootstrap.sh)",
                                             (playwright / "package.json").exists()),
                                            ("node", shutil.which("node"))) if not there]
        if missing:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                self.fail("CI is set, and the browser test needs: " + ", ".join(missing))
            self.skipTest("no browser test here (CI unset): missing " + ", ".join(missing))
        # Upgrades load files under the manifest's directory only (the default upgrade_dirs).
        upgrade_file = self.dir / "echo-upgrade.wasm"
        shutil.copy(pathlib.Path(ARGS.components) / "echo.wasm", upgrade_file)
        url = "http://" + self.host.tcp + self.login_url()
        r = subprocess.run(["node", str(pathlib.Path(__file__).parent / "dashboard" / "browser_check.js"),
                            "--playwright", str(playwright), "--url", url,
                            "--capsule", capsule_process.CAPSULE, "--admin", self.host.admin,
                            "--screenshot", ARGS.screenshot, "--component", "demo/echo",
                            "--upgrade-file", str(upgrade_file)],
                           capture_output=True, text=True, timeout=240)
        print(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(pathlib.Path(ARGS.screenshot).stat().st_size > 10_000)
        print("dashboard screenshot:", ARGS.screenshot)


class FailuresOnTheDashboard(unittest.TestCase):
    def test_traps_and_a_supervisor_giving_up(self):
        with tempfile.TemporaryDirectory() as tmp:
            manifest = pathlib.Path(tmp) / "app.toml"
            manifest.write_text(MANIFEST.format(components=ARGS.components) + """
[[component]]
name = "bad/trap"
path = "trap.wasm"
  [component.supervision]
  max_restarts = 2
  window_ms = 60000
  backoff_ms = 0
""")
            host = HostProcess(manifest)
            try:
                for _ in range(3):
                    capsule("call", "bad/trap/0", "boom", admin=host.admin, check=False)

                def snapshot():
                    conn = capsule_process.UnixHTTPConnection(host.admin)
                    conn.request("GET", "/v1/dashboard")
                    return json.loads(conn.getresponse().read())

                self.assertTrue(wait_for(lambda: any(f["kind"] == "gave up" for f in snapshot()["failures"])),
                                snapshot()["failures"])
                snap = snapshot()
                # Three traps, then the supervisor that gave up fails too (escalation).
                traps = [f for f in snap["failures"] if f["kind"] == "failed" and "trapped" in f["reason"]
                         and "gave up" not in f["reason"]]
                self.assertEqual(len(traps), 3, snap["failures"])
                self.assertEqual({f["instance"] for f in traps}, {"bad/trap/0"})
                self.assertEqual({i["id"]: i["state"] for i in snap["instances"]}["bad/trap/0"], "failed")
                self.assertGreaterEqual(snap["instance_failures"], 3)
                self.assertIn("bad/trap", snap["components"])
            finally:
                host.kill()


CLUSTER_MANIFEST = """
[host]
name = "{name}"
data_dir = "data-{name}"
components_dir = "{components}"

[[component]]
name = "{ns}/echo"
path = "echo.wasm"
"""


class ClusterDashboard(unittest.TestCase):
    def test_the_hosts_of_the_cluster(self):
        if not os.path.exists(ARGS.nats_server):
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                self.fail("CI is set, and the cluster case needs nats-server (scripts/bootstrap.sh)")
            self.skipTest("no nats-server here (CI unset)")
        with tempfile.TemporaryDirectory() as tmp:
            d = pathlib.Path(tmp)
            nats = nats_process.NatsServer(ARGS.nats_server)
            hosts = []
            try:
                for name, ns in (("alpha", "a"), ("beta", "b")):
                    (d / f"{name}.toml").write_text(
                        CLUSTER_MANIFEST.format(name=name, ns=ns, components=ARGS.components))
                    hosts.append(HostProcess(d / f"{name}.toml", None, "--cluster", nats.url))

                def snapshot():
                    conn = capsule_process.UnixHTTPConnection(hosts[0].admin)
                    conn.request("GET", "/v1/dashboard")
                    return json.loads(conn.getresponse().read())

                self.assertTrue(wait_for(lambda: len(snapshot()["hosts"]["hosts"]) == 2, timeout=30))
                seen = snapshot()["hosts"]
                self.assertTrue(seen["connected"])
                self.assertNotEqual(seen["cluster"], "")
                self.assertEqual({(h["name"], h["self"]) for h in seen["hosts"]},
                                 {("alpha", True), ("beta", False)})
            finally:
                for h in hosts:
                    h.kill()
                nats.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--playwright", required=True, help="the playwright-core package directory")
    parser.add_argument("--screenshot", required=True, help="where to save the page's screenshot")
    parser.add_argument("--nats-server", required=True, help="nats-server, for the cluster case")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], "-v", *rest])
