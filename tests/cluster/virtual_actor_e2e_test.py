#!/usr/bin/env python3
"""Virtual actors across real `capsule run --cluster` processes: two hosts load the on-demand
cart (guest/examples/cart.c) with their storage in JetStream KV. Each name is served by one host
whichever host it is sent to (the count of adds is exact), both hosts serve some names, and when
one host stops its names move to the other with their items, while a name the other host already
served keeps answering. Bounded in time; every child process is killed on the way out."""
import argparse
import json
import pathlib
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "e2e"))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nats_process  # noqa: E402

ARGS = None

SHOP = """
[host]
components_dir = "{components}"
storage_backend = "nats-kv"
kv_bucket = "carts_e2e"

[[component]]
name = "shop/cart"
path = "cart.wasm"
activation = "on-demand"
idle_timeout_ms = 600000
max_active = 100
  [component.capabilities]
  "storage.read" = ["cart/**"]
  "storage.write" = ["cart/**"]

[grants."shop/cart"]
"storage.read" = ["cart/**"]
"storage.write" = ["cart/**"]
"""

NAMES = 16
ADDS = 3


class VirtualActorsAcrossProcesses(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "shop.toml"
        self.manifest.write_text(SHOP.format(components=ARGS.components))
        self.nats = nats_process.NatsServer(ARGS.nats_server, store_dir=self.dir / "jetstream")
        self.procs = []
        self.h1 = self.host("h1")
        self.h2 = self.host("h2")

    def host(self, name):
        h = HostProcess(self.manifest, None, "--cluster", self.nats.url, "--host", name,
                        "--data-dir", str(self.dir / f"data-{name}"))
        self.procs.append(h)
        return h

    def tearDown(self):
        for h in self.procs:
            h.kill(signal.SIGTERM)
        self.nats.close()
        self.tmp.cleanup()

    def call(self, host, name, text, check=True):
        return capsule("call", f"shop/cart/{name}", text, "--timeout-ms", "10000", admin=host.admin,
                       check=check)

    @staticmethod
    def carts(host):
        ps = json.loads(capsule("ps", "--json", admin=host.admin).stdout)
        return {c["component"]: c for c in ps["on_demand"]}["shop/cart"]

    @staticmethod
    def sees(host, other):
        return other in [h["name"] for h in host.hosts()["hosts"]]

    def test_one_activation_per_name_across_hosts_and_names_move_with_their_state(self):
        self.assertTrue(wait_for(lambda: self.sees(self.h1, "h2") and self.sees(self.h2, "h1"), 20))
        owner = {}
        for i in range(NAMES):
            before = (self.carts(self.h1)["activations"], self.carts(self.h2)["activations"])
            # The first add from either host: its reply is the item count, 1.
            sender = self.h1 if i % 2 == 0 else self.h2
            self.assertEqual(self.call(sender, f"user-{i}", "add:a").stdout.strip(), "1")
            after = (self.carts(self.h1)["activations"], self.carts(self.h2)["activations"])
            grew = [n for n, b, a in zip(("h1", "h2"), before, after) if a > b]
            self.assertEqual(len(grew), 1, (before, after))
            owner[f"user-{i}"] = grew[0]
        self.assertEqual(set(owner.values()), {"h1", "h2"}, owner)
        # More adds from both hosts, alternating: one activation counts them all, exactly.
        for k in range(2, ADDS + 1):
            for i in range(NAMES):
                sender = self.h1 if (i + k) % 2 == 0 else self.h2
                self.assertEqual(self.call(sender, f"user-{i}", f"add:{k}").stdout.strip(), str(k))
        self.assertEqual(self.carts(self.h1)["activations"] + self.carts(self.h2)["activations"],
                         NAMES)
        self.assertEqual(self.carts(self.h1)["active"] + self.carts(self.h2)["active"], NAMES)

        # h2 stops (goodbye): its names are h1's now, their items read back from JetStream KV;
        # a name h1 already served answers throughout.
        canary = next(n for n, o in owner.items() if o == "h1")
        moved = [n for n, o in owner.items() if o == "h2"]
        self.assertEqual(self.h2.terminate(), 0)
        self.assertEqual(self.call(self.h1, canary, "count").stdout.strip(), str(ADDS))
        for name in moved:
            self.assertEqual(self.call(self.h1, name, "info").stdout.strip(),
                             f"{name} items={ADDS} loaded={ADDS}")
        for name in owner:
            self.assertEqual(self.call(self.h1, name, "add:z").stdout.strip(), str(ADDS + 1))
        self.assertEqual(self.carts(self.h1)["active"], NAMES)

        # h2 comes back: its names move back to it (h1 retires them), state intact.
        self.h2 = self.host("h2")
        self.assertTrue(wait_for(lambda: self.sees(self.h1, "h2") and self.sees(self.h2, "h1"), 20))
        self.assertTrue(wait_for(lambda: self.carts(self.h1)["active"] == NAMES - len(moved), 20),
                        self.carts(self.h1))
        for name in owner:
            self.assertEqual(self.call(self.h2, name, "count").stdout.strip(), str(ADDS + 1))
        self.assertEqual(self.carts(self.h2)["activations"], len(moved))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats-server", required=True)
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
