"""Virtual actors through `capsule run`, as a user runs them: a component marked
activation = "on-demand" answers for any instance name without being started, keeps at most
max_active names active, deactivates idle ones, and a name's state comes back from storage on
its next activation. Manifest mistakes about it name the file, line and field."""
import http.client as http_client
import json
import pathlib
import re
import sys
import tempfile
import unittest

import capsule_process as cp
from capsule_process import capsule, wait_for

ARGS = None


def manifest(root, extra=""):
    text = f"""
[host]
name = "shop"
data_dir = "{root}/data"
components_dir = "{ARGS.components}"

[[component]]
name = "shop/cart"
path = "cart.wasm"
activation = "on-demand"
idle_timeout_ms = 1000
max_active = 5
{extra}
  [component.capabilities]
  "storage.read" = ["cart/**"]
  "storage.write" = ["cart/**"]

[grants."shop/cart"]
"storage.read" = ["cart/**"]
"storage.write" = ["cart/**"]
"""
    path = pathlib.Path(root) / "app.toml"
    path.write_text(text)
    return path


def on_demand(admin):
    ps = json.loads(capsule("ps", "--json", admin=admin).stdout)
    return {c["component"]: c for c in ps["on_demand"]}["shop/cart"]


class VirtualActors(unittest.TestCase):
    def test_any_name_answers_at_most_max_active_are_active_and_state_survives(self):
        with tempfile.TemporaryDirectory() as root:
            host = cp.HostProcess(manifest(root))
            a = host.admin
            try:
                started = [json.loads(l) for l in host.lines if "on demand" in l]
                self.assertEqual(len(started), 1, "".join(host.lines))
                self.assertEqual(started[0]["max_active"], "5")
                self.assertEqual(on_demand(a)["activations"], 0)
                for i in range(20):
                    r = capsule("call", f"shop/cart/user-{i}", f"add:item-{i}", admin=a)
                    self.assertEqual(r.stdout.strip(), "1", r.stderr)
                    self.assertLessEqual(on_demand(a)["active"], 5)
                stats = on_demand(a)
                self.assertEqual(stats["activations"], 20)
                # Room for each new name came from the least recently used, or from an idle one.
                self.assertGreaterEqual(stats["evictions"] + stats["idle_retirements"], 15, stats)
                # Every cart goes idle and is deactivated; each one's item is in storage.
                self.assertTrue(wait_for(lambda: on_demand(a)["active"] == 0, timeout=20),
                                on_demand(a))
                self.assertEqual(capsule("call", "shop/cart/user-3", "info", admin=a).stdout.strip(),
                                 "user-3 items=1 loaded=1")
                metrics = capsule("metrics", admin=a).stdout
                self.assertRegex(metrics, r'capsule_activations_total\{component="shop/cart"\} 21')
                self.assertRegex(metrics, r'capsule_activation_evictions_total\{component="shop/cart"\} \d+')
                human = capsule("ps", admin=a).stdout
                self.assertIn("ON-DEMAND COMPONENT", human)
                self.assertRegex(human, r"shop/cart\s+[01]\s+0\s+21\s")
                self.assertEqual(host.terminate(), 0)
            finally:
                host.kill()

    def test_an_http_route_names_the_virtual_actor_in_its_path(self):
        http = """
[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/cart"
component = "shop/cart"

[[http.route]]
path = "/static"
static = "ok"
"""
        with tempfile.TemporaryDirectory() as root:
            path = manifest(root)
            path.write_text(path.read_text() + http)
            host = cp.HostProcess(path)
            try:
                address = host.http_address()

                def post(url, body=b""):
                    conn = http_client.HTTPConnection(*address, timeout=10)
                    try:
                        conn.request("POST", url, body=body)
                        r = conn.getresponse()
                        return r.status, r.read().decode()
                    finally:
                        conn.close()

                # Each name is its own cart, activated by its first request.
                self.assertEqual(post("/cart/alice", b"add:apple"), (200, "1"))
                self.assertEqual(post("/cart/alice/items", b"add:pear"), (200, "2"))
                self.assertEqual(post("/cart/bob", b"add:fig"), (200, "1"))
                self.assertEqual(post("/cart/alice", b"info"), (200, "alice items=2 loaded=0"))
                # No name, or one that is not an instance name: refused, naming the form.
                status, body = post("/cart", b"add:x")
                self.assertEqual(status, 404, body)
                self.assertIn("/cart/<instance name>", body)
                status, body = post("/cart/a%20b", b"add:x")
                self.assertEqual(status, 400, body)
                self.assertIn("not an instance name of shop/cart", body)
                status, body = post("/cart/" + "x" * 200, b"add:x")
                self.assertEqual(status, 400, body)
                # The canary: the names and the host still answer.
                self.assertEqual(post("/cart/bob", b"count"), (200, "1"))
                self.assertEqual(post("/static"), (200, "ok"))
                self.assertEqual(on_demand(host.admin)["activations"], 2)
                self.assertEqual(host.terminate(), 0)
            finally:
                host.kill()

    def test_manifest_mistakes_name_file_line_and_field(self):
        cases = {
            'instances: not for activation = "on-demand"': "instances = 3",
            'links: not for activation = "on-demand"': 'links = ["shop/other"]',
            'max_active: expected a count between 1 and': "",  # max_active = 0 below
            'activation: expected "on-demand" or "eager"': "",
        }
        with tempfile.TemporaryDirectory() as root:
            for expected, extra in cases.items():
                with self.subTest(expected=expected):
                    path = manifest(root, extra)
                    text = path.read_text()
                    if expected.startswith("max_active"):
                        text = text.replace("max_active = 5", "max_active = 0")
                    if expected.startswith("activation:"):
                        text = text.replace('"on-demand"', '"lazy"')
                    path.write_text(text)
                    r = capsule("run", str(path), "--admin", "127.0.0.1:0",
                                check=False)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    self.assertRegex(r.stderr, r"app\.toml:\d+: ")
                    self.assertIn(expected, r.stderr)


if __name__ == "__main__":
    ARGS, rest = cp.parse_args()
    unittest.main(argv=[sys.argv[0], *rest])
