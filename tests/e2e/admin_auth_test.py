#!/usr/bin/env python3
"""Access control of the admin API on a real `capsule run` host (docs/cli.md, "Access"):
the Unix socket (mode 0600, used by the CLI by default), TCP off unless asked for, the TCP
listener's bearer token (401 without it or with a wrong one, the daemon still serving), the
audit log naming who did each action, and `upgrade` refusing files outside [host].upgrade_dirs
(plain paths, `..`, symlinks). Bounded in time; every child process is killed on the way out."""
import json
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

MANIFEST = """
[host]
name = "admin-auth"
components_dir = "{components}"
{extra}

[[component]]
name = "demo/echo"
path = "echo.wasm"
"""


def http(address, method, path, body=b"", headers=(), timeout=5.0):
    """One request on a new connection to a Unix socket path or a (host, port); returns
    (status, JSON body)."""
    if isinstance(address, tuple):
        s = socket.create_connection(address, timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(address)
    with s:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
                 "Connection: close", *headers]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def listening_tcp_ports(pid):
    """The TCP ports process `pid` listens on (its socket inodes matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                ports.append(int(f[1].rsplit(":", 1)[1], 16))
    return ports


class AdminAccess(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.kill()
        self.tmp.cleanup()

    def start(self, extra="", tcp=None):
        manifest = self.dir / "app.toml"
        manifest.write_text(MANIFEST.format(components=ARGS.components, extra=extra))
        host = HostProcess(manifest, tcp)
        self.hosts.append(host)
        return host

    def audit(self, host, **match):
        """The admin records of the host's audit log with these field values."""
        lines = [json.loads(x) for x in (host.data_dir / "audit.jsonl").read_text().splitlines()]
        return [r for r in lines if r.get("kind") == "admin" and
                all(r.get(k) == v for k, v in match.items())]

    def canary(self, host):
        """A call with the token right after a refusal: answered, quickly, by a live daemon."""
        t0 = time.monotonic()
        status, body = http(self.tcp_address(host), "POST", "/v1/call",
                            json.dumps({"target": "demo/echo/0", "payload": "canary"}).encode(),
                            [f"Authorization: Bearer {host.token()}"])
        self.assertEqual(status, 200, body)
        self.assertIn("canary", body["payload"])
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertIsNone(host.proc.poll(), "the daemon died")

    @staticmethod
    def tcp_address(host):
        ip, port = host.tcp.rsplit(":", 1)
        return ip, int(port)

    def test_unix_socket_is_0600_and_the_cli_uses_it_by_default(self):
        host = self.start()
        st = os.stat(host.admin)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(host.data_dir, self.dir / ".capsule")
        # No --admin, no environment: the CLI finds .capsule/admin.sock next to the manifest.
        ps = json.loads(capsule("ps", "--json", cwd=self.dir).stdout)
        self.assertEqual([i["id"] for i in ps["instances"]], ["demo/echo/0"])
        self.assertEqual(capsule("call", "demo/echo/0", "hi", cwd=self.dir).stdout.strip(), "hi")
        # ... or the data dir named from anywhere, or the socket itself.
        self.assertEqual(capsule("call", "demo/echo/0", "x", "--data-dir", str(host.data_dir)).returncode, 0)
        self.assertEqual(capsule("call", "demo/echo/0", "y", admin=host.admin).returncode, 0)
        # A second host on the same data dir is refused instead of stealing the socket.
        second = subprocess.run([capsule_process.CAPSULE, "run", str(self.dir / "app.toml")],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(second.returncode, 1)
        self.assertIn("another capsule host is serving", second.stdout + second.stderr)
        self.assertEqual(capsule("call", "demo/echo/0", "still", admin=host.admin).stdout.strip(), "still")
        # The socket is removed on a graceful stop.
        self.assertEqual(host.terminate(), 0)
        self.assertFalse(pathlib.Path(host.admin).exists())

    def test_the_unix_socket_survives_bad_clients(self):
        """The socket's connections are served by capsule's own loop around cpp-httplib's parser
        (to learn the peer's uid): keep-alive, slowloris and garbage behave as on TCP."""
        host = self.start()

        def canary():
            t0 = time.monotonic()
            status, body = http(host.admin, "POST", "/v1/call",
                                json.dumps({"target": "demo/echo/0", "payload": "canary"}).encode())
            self.assertEqual(status, 200, body)
            self.assertLess(time.monotonic() - t0, 1.0)

        # Several requests on one kept-alive connection.
        conn = capsule_process.UnixHTTPConnection(host.admin, timeout=5)
        for i in range(5):
            conn.request("POST", "/v1/call", json.dumps({"target": "demo/echo/0", "payload": f"k{i}"}))
            answer = conn.getresponse()
            self.assertEqual(json.loads(answer.read())["payload"], f"k{i}")
        conn.close()
        # Garbage, and a client that connects and leaves.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(host.admin)
            s.sendall(b"BREW /coffee HTCPCP/1.0\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 4"))
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(host.admin)
        canary()
        # Slowloris: stalled requests neither block others nor stay open past the read timeout.
        stalled = []
        for _ in range(8):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(15)
            s.connect(host.admin)
            s.sendall(b"POST /v1/call HTTP/1.1\r\nHost: x\r\n")
            stalled.append(s)
        try:
            for _ in range(5):
                canary()
            t0 = time.monotonic()
            for s in stalled:
                data = s.recv(4096)  # an answer (4xx) or EOF: the server let go
                self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 4"), data[:100])
            self.assertLess(time.monotonic() - t0, 14)
        finally:
            for s in stalled:
                s.close()
        canary()

    def test_tcp_is_off_by_default(self):
        host = self.start()
        self.assertIsNone(host.tcp)
        self.assertEqual(listening_tcp_ports(host.proc.pid), [])
        self.assertFalse((host.data_dir / "admin.token").exists())

    def test_tcp_wants_the_token(self):
        host = self.start(tcp="127.0.0.1:0")
        self.assertEqual(listening_tcp_ports(host.proc.pid), [self.tcp_address(host)[1]])
        token_file = host.data_dir / "admin.token"
        self.assertEqual(stat.S_IMODE(token_file.stat().st_mode), 0o600)
        token = host.token()
        self.assertRegex(token, r"^[0-9a-f]{64}$")
        printed = [json.loads(x) for x in host.lines if token in x]
        self.assertEqual(len(printed), 1, "the token is printed once, on the first start")
        call = json.dumps({"target": "demo/echo/0", "payload": "intruder"}).encode()
        address = self.tcp_address(host)
        for headers, words in [([], "wants its token"),
                               (["Authorization: Bearer " + "0" * 64], "wrong admin token"),
                               ([f"Authorization: Bearer {token[:-1]}"], "wrong admin token"),
                               ([f"Authorization: bearer{token}"], "wrong admin token"),
                               ([f"Authorization: Basic {token}"], "wrong admin token")]:
            status, body = http(address, "POST", "/v1/call", call, headers)
            self.assertEqual(status, 401, body)
            self.assertFalse(body["ok"])
            self.assertIn(words, body["error"]["message"])
            self.canary(host)
        # The token does not open the door to a web page.
        status, body = http(address, "POST", "/v1/stop", b'{"component":"demo/echo"}',
                            [f"Authorization: Bearer {token}", "Origin: http://evil.example"])
        self.assertEqual(status, 403, body)
        self.canary(host)
        # The CLI over TCP: token from the data dir, the environment or a file; none is a 401.
        tcp = host.tcp
        self.assertEqual(capsule("call", "demo/echo/0", "a", admin=tcp, env={"CAPSULE_DATA_DIR": str(host.data_dir)}).stdout.strip(), "a")
        self.assertEqual(capsule("call", "demo/echo/0", "b", admin=tcp, env={"CAPSULE_ADMIN_TOKEN": token}).stdout.strip(), "b")
        self.assertEqual(capsule("call", "demo/echo/0", "c", "--token-file", str(token_file), admin=tcp).stdout.strip(), "c")
        bare = capsule("call", "demo/echo/0", "d", admin=tcp, check=False, cwd=self.dir.parent)
        self.assertEqual(bare.returncode, 1)
        self.assertIn("unauthorized", bare.stderr)
        wrong = capsule("ps", admin=tcp, check=False, env={"CAPSULE_ADMIN_TOKEN": "f" * 64})
        self.assertIn("wrong admin token", wrong.stderr)
        # Refusals are audited with the client's address, the action and the outcome.
        refused = self.audit(host, allowed=False)
        self.assertTrue(refused)
        self.assertTrue(all(r["who"].startswith("tcp:127.0.0.1:") for r in refused), refused)
        self.assertIn("admin.call", {r["action"] for r in refused})
        self.assertTrue(any("401 wrong admin token" in r["outcome"] for r in refused), refused)
        self.assertTrue(any("403" in r["outcome"] and r["action"] == "admin.stop" for r in refused))
        # The host keeps its token across restarts, and does not print it again.
        self.assertEqual(host.terminate(), 0)
        again = self.start(tcp="127.0.0.1:0")
        self.assertEqual(again.token(), token)
        self.assertFalse(any(token in x for x in again.lines))
        self.canary(again)
        # A token file others may read stops the host: anyone who reads it is the operator.
        self.assertEqual(again.terminate(), 0)
        token_file.chmod(0o644)
        r = capsule("run", str(self.dir / "app.toml"), "--admin", "127.0.0.1:0", check=False, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("chmod 600", r.stdout + r.stderr)

    def test_refusals_are_throttled(self):
        host = self.start(tcp="127.0.0.1:0")
        address = self.tcp_address(host)
        for _ in range(60):
            self.assertEqual(http(address, "GET", "/v1/ps", headers=["Authorization: Bearer nope"])[0], 401)
        self.canary(host)
        time.sleep(1.1)
        self.assertEqual(http(address, "GET", "/v1/ps")[0], 401)
        refused = self.audit(host, allowed=False)
        self.assertLess(len(refused), 60, "every refusal of a flood was written")
        self.assertIn("similar records suppressed", refused[-1]["outcome"])

    def test_admin_actions_are_audited_with_the_caller(self):
        (self.dir / "v2").mkdir()
        shutil.copy(pathlib.Path(ARGS.components) / "echo.wasm", self.dir / "v2" / "echo.wasm")
        host = self.start(tcp="127.0.0.1:0")
        a = host.admin
        capsule("send", "demo/echo/0", "note", admin=a)
        capsule("call", "demo/echo/0", "ask", admin=a)
        capsule("upgrade", "demo/echo", str(self.dir / "v2" / "echo.wasm"), admin=a)
        capsule("restart", "demo/echo", admin=a)
        capsule("stop", "demo/echo", admin=a)
        me = f"unix:uid={os.getuid()},pid="
        expected = {"admin.send": "demo/echo/0", "admin.call": "demo/echo/0",
                    "admin.upgrade": f"demo/echo <- {self.dir / 'v2' / 'echo.wasm'}",
                    "admin.restart": "demo/echo", "admin.stop": "demo/echo"}
        for action, target in expected.items():
            records = self.audit(host, action=action, allowed=True, outcome="ok")
            self.assertEqual(len(records), 1, f"{action}: {records}")
            self.assertTrue(records[0]["who"].startswith(me), records[0])
            self.assertEqual(records[0]["target"], target)
        # A failed action is recorded with its outcome; over TCP the caller is the token's holder.
        capsule("send", "demo/echo/0", "late", admin=host.tcp, check=False,
                env={"CAPSULE_DATA_DIR": str(host.data_dir)})
        late = self.audit(host, action="admin.send", target="demo/echo/0", allowed=True)[-1]
        self.assertTrue(late["who"].startswith("token@127.0.0.1:"), late)
        self.assertNotEqual(late["outcome"], "ok")
        # Reads are not actions: polling ps or metrics writes nothing.
        before = len(self.audit(host))
        capsule("ps", admin=a)
        capsule("metrics", admin=a)
        self.assertEqual(len(self.audit(host)), before)

    def test_upgrade_only_from_allowed_dirs(self):
        inside = self.dir / "echo-v2.wasm"
        shutil.copy(pathlib.Path(ARGS.components) / "echo.wasm", inside)
        outside = pathlib.Path(tempfile.mkdtemp(dir=self.dir.parent))
        self.addCleanup(shutil.rmtree, outside)
        shutil.copy(pathlib.Path(ARGS.components) / "echo.wasm", outside / "echo.wasm")
        (self.dir / "link.wasm").symlink_to(outside / "echo.wasm")
        (self.dir / "linkdir").symlink_to(outside)
        host = self.start()  # default upgrade_dirs: the manifest's own directory
        escapes = [
            str(pathlib.Path(ARGS.components) / "echo.wasm"),              # plain path elsewhere
            f"{self.dir}/../{outside.name}/echo.wasm",                     # `..` out of the dir
            str(self.dir / "link.wasm"),                                   # a symlinked file
            str(self.dir / "linkdir" / "echo.wasm"),                       # a symlinked dir
        ]
        for path in escapes:
            with self.subTest(path=path):
                status, body = http(host.admin, "POST", "/v1/upgrade",
                                    json.dumps({"component": "demo/echo", "path": path}).encode())
                self.assertEqual(status, 403, body)
                message = body["error"]["message"]
                self.assertIn(path, message)
                self.assertIn(str(self.dir.resolve()), message)
                self.assertIn("upgrade_dirs", message)
                r = self.audit(host, action="admin.upgrade", target=f"demo/echo <- {path}")
                self.assertEqual(len(r), 1, r)
                self.assertFalse(r[0]["allowed"])
        cli = capsule("upgrade", "demo/echo", str(self.dir / "link.wasm"), admin=host.admin, check=False)
        self.assertEqual(cli.returncode, 1)
        self.assertIn("outside the directories", cli.stderr)
        # Inside the directory it works, and the component still answers.
        capsule("upgrade", "demo/echo", str(inside), admin=host.admin)
        self.assertEqual(capsule("call", "demo/echo/0", "up", admin=host.admin).stdout.strip(), "up")

    def test_upgrade_dirs_setting(self):
        extra = f'upgrade_dirs = ["{ARGS.components}"]'
        host = self.start(extra=extra)
        capsule("upgrade", "demo/echo", str(pathlib.Path(ARGS.components) / "echo.wasm"), admin=host.admin)
        host.kill()
        (self.dir / "app.toml").write_text(MANIFEST.format(components=ARGS.components,
                                                           extra='upgrade_dirs = ["no-such-dir"]'))
        r = capsule("run", str(self.dir / "app.toml"), check=False, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("upgrade_dirs", r.stdout + r.stderr)


if __name__ == "__main__":
    ARGS, rest = capsule_process.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
