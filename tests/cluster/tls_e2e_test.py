#!/usr/bin/env python3
"""`capsule cluster init --tls` output in use: nats-server with TLS and client certificates
required, two `capsule run` hosts sharing one manifest (failover leases and component storage in
JetStream KV, so every NATS connection of a host is involved) logging in with their .creds files.
A host without the TLS files, or with a wrong path in the manifest, does not start and says why.

Bounded in time; every child process is killed on the way out."""
import argparse
import pathlib
import signal
import subprocess
import sys
import tempfile
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "e2e"))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nats_process  # noqa: E402

# The failover manifest of cluster_e2e_test (ledger with a lease and nats-kv storage, a cache on
# the primary, an echo everywhere), in cluster "default" with KV bucket "bank_e2e".
from cluster_e2e_test import BANK  # noqa: E402


class TlsInit(unittest.TestCase):
    """`capsule cluster init --tls` (with `INIT_ARGS`) into <tmp>/auth, and a nats-server running
    its configuration; hosts started by a test are stopped after it."""
    INIT_ARGS = ()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "bank.toml"
        self.manifest.write_text(BANK.format(components=ARGS.components))
        self.auth = self.dir / "auth"
        self.init = capsule("cluster", "init", "--hosts", "p1,s1", "--kv-bucket", "bank_e2e", "--tls",
                            *self.INIT_ARGS, "--out", str(self.auth))
        self.nats = nats_process.NatsServer(ARGS.nats_server, store_dir=self.dir / "jetstream",
                                            config=self.auth / "nats-server.conf")
        self.url = self.nats.url.replace("nats://", "tls://")
        self.procs = []

    def tearDown(self):
        for h in self.procs:
            h.kill(signal.SIGTERM)
        self.nats.close()
        self.tmp.cleanup()

    def mode(self, name):
        return oct((self.auth / name).stat().st_mode & 0o777)


class TlsClusterEndToEnd(TlsInit):
    def setUp(self):
        super().setUp()
        self.assertIn("tls://", self.init.stdout)
        for name, mode in [("ca.pem", 0o644), ("nats-server.pem", 0o644), ("nats-server.key", 0o600),
                           ("p1.pem", 0o644), ("p1.key", 0o600), ("s1.key", 0o600), ("p1.creds", 0o600)]:
            self.assertEqual(self.mode(name), oct(mode), name)
        self.assertFalse((self.auth / "ca.key").exists(), "the CA's key is not kept")
        conf = (self.auth / "nats-server.conf").read_text()
        self.assertIn("verify: true", conf)

    def host(self, name, groups):
        h = HostProcess(self.manifest, None, "--cluster", self.url, "--host", name, "--groups", groups,
                        "--data-dir", str(self.dir / f"data-{name}"),
                        "--credentials", str(self.auth / f"{name}.creds"))
        self.procs.append(h)
        return h

    def run_host(self, manifest, *extra):
        return subprocess.run([ARGS.capsule, "run", str(manifest), "--admin", "127.0.0.1:0",
                               "--cluster", self.url, "--data-dir", str(self.dir / "data-x"), *extra],
                              capture_output=True, text=True, timeout=60)

    def call(self, host, target, text, check=True):
        return capsule("call", target, text, "--timeout-ms", "5000", admin=host.admin, check=check)

    def test_hosts_work_over_tls_and_others_are_refused(self):
        p1 = self.host("p1", "primary")
        s1 = self.host("s1", "standby")
        # Requests across hosts (s1 -> p1's ledger and cache); the ledger keeps its state in
        # JetStream KV and holds its failover lease there, all over TLS.
        self.assertTrue(wait_for(lambda: self.call(s1, "bank/ledger/0", "add:5", check=False).returncode == 0, 20))
        self.assertEqual(self.call(s1, "bank/ledger/0", "add:10").stdout.strip(), "15")
        self.assertEqual(self.call(s1, "bank/cache/0", "hi").stdout.strip(), "hi")
        self.assertIn("bank/ledger/0", p1.instances())
        self.assertEqual(sorted(h["name"] for h in s1.hosts()["hosts"]), ["p1", "s1"])

        # Without the TLS files (a .creds file of plain `cluster init`, right password): refused.
        plain_creds = self.dir / "plain-s1.creds"
        plain_creds.write_text("\n".join(l for l in (self.auth / "s1.creds").read_text().splitlines()
                                         if not l.startswith("tls_")) + "\n")
        plain_creds.chmod(0o600)
        r = self.run_host(self.manifest, "--host", "s1", "--groups", "standby", "--credentials", str(plain_creds))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a tls:// URL needs this host's TLS files", r.stdout + r.stderr)
        print("\n  without TLS files: " + next(l for l in (r.stdout + r.stderr).splitlines() if "tls://" in l),
              file=sys.stderr)

        # A manifest naming a TLS file that is not there: the key, the path and the line.
        broken = self.dir / "broken.toml"
        broken.write_text(BANK.format(components=ARGS.components)
                          + '\n[host.cluster_tls]\nca = "tls/ca.pem"\n')
        r = self.run_host(broken, "--host", "s1", "--credentials", str(plain_creds))
        self.assertEqual(r.returncode, 1)
        self.assertIn("broken.toml:", r.stderr)
        self.assertIn("host.cluster_tls.ca: " + str(self.dir / "tls" / "ca.pem") + ": cannot read", r.stderr)
        print("  wrong path: " + r.stderr.strip().splitlines()[-1], file=sys.stderr)

        # The same manifest with the right files in [host.cluster_tls] joins (and the canary
        # request still crosses throughout).
        fixed = self.dir / "fixed.toml"
        fixed.write_text(BANK.format(components=ARGS.components)
                         + f'\n[host.cluster_tls]\nca = "auth/ca.pem"\ncert = "auth/s1.pem"\nkey = "auth/s1.key"\n')
        s1.kill(signal.SIGTERM)
        h = HostProcess(fixed, None, "--cluster", self.url, "--host", "s1", "--groups", "standby",
                        "--data-dir", str(self.dir / "data-s1b"), "--credentials", str(plain_creds))
        self.procs.append(h)
        self.assertTrue(wait_for(lambda: self.call(h, "bank/ledger/0", "add:1", check=False).stdout.strip() == "16", 20))


class TlsRenewalEndToEnd(TlsInit):
    """`cluster init --tls --keep-ca-key`, then `cluster renew`: a host restarted on its renewed
    certificate joins; nothing is overwritten without --force; without the kept key, renew says
    why."""
    INIT_ARGS = ("--keep-ca-key",)

    def setUp(self):
        super().setUp()
        self.assertIn("ca.key lets anyone make certificates", self.init.stdout)
        self.assertEqual(self.mode("ca.key"), oct(0o600))

    def test_a_renewed_host_joins_and_nothing_is_overwritten_without_force(self):
        before = (self.auth / "p1.pem").read_text()
        refused = capsule("cluster", "renew", "--dir", str(self.auth), "--hosts", "p1", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("--force", refused.stderr)
        self.assertEqual((self.auth / "p1.pem").read_text(), before, "overwritten without --force")
        renewed = capsule("cluster", "renew", "--dir", str(self.auth), "--hosts", "p1", "--force")
        self.assertIn("p1.pem", renewed.stdout)
        self.assertNotEqual((self.auth / "p1.pem").read_text(), before)
        self.assertEqual(self.mode("p1.key"), oct(0o600))
        p1 = HostProcess(self.manifest, None, "--cluster", self.url, "--host", "p1", "--groups", "primary",
                         "--data-dir", str(self.dir / "data-p1"),
                         "--credentials", str(self.auth / "p1.creds"))
        self.procs.append(p1)
        self.assertTrue(wait_for(lambda: capsule("call", "bank/ledger/0", "add:2", "--timeout-ms", "5000",
                                                 admin=p1.admin, check=False).stdout.strip() == "2", 20))
        # A directory from `cluster init --tls` without --keep-ca-key cannot issue anything.
        other = self.dir / "other"
        capsule("cluster", "init", "--hosts", "p1", "--tls", "--out", str(other))
        r = capsule("cluster", "renew", "--dir", str(other), "--hosts", "p1", "--force", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--keep-ca-key", r.stderr)
        print("\n  without ca.key: " + r.stderr.strip().splitlines()[-1], file=sys.stderr)

    def test_an_added_host_joins_once_the_server_restarts(self):
        added = capsule("cluster", "add-host", "--dir", str(self.auth), "--host", "s2",
                        "--kv-bucket", "bank_e2e")
        self.assertIn("s2.creds", added.stdout)
        for name, mode in [("s2.creds", 0o600), ("s2.key", 0o600), ("s2.pem", 0o644),
                           ("nats-server.conf", 0o600)]:
            self.assertEqual(self.mode(name), oct(mode), name)
        again = capsule("cluster", "add-host", "--dir", str(self.auth), "--host", "s2",
                        "--kv-bucket", "bank_e2e", check=False)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("already", again.stderr)
        wrong = capsule("cluster", "add-host", "--dir", str(self.auth), "--host", "s3", check=False)
        self.assertNotEqual(wrong.returncode, 0, "a bucket the server does not allow")
        self.assertIn("--kv-bucket", wrong.stderr)
        # A restart (same port and store): a reload would do on nats-server 2.14, but 2.9.10 turns
        # JetStream off on a reload when -js came from the command line.
        self.nats.stop()
        self.nats.start()
        hosts = []
        for name, groups in (("p1", "primary"), ("s2", "standby")):
            h = HostProcess(self.manifest, None, "--cluster", self.url, "--host", name, "--groups", groups,
                            "--data-dir", str(self.dir / f"data-{name}"),
                            "--credentials", str(self.auth / f"{name}.creds"))
            self.procs.append(h)
            hosts.append(h)
        # s2, added after init, reaches p1's ledger through the cluster (and p1 the original).
        self.assertTrue(wait_for(lambda: capsule("call", "bank/ledger/0", "add:3", "--timeout-ms", "5000",
                                                 admin=hosts[1].admin, check=False).stdout.strip() == "3", 20))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats-server", required=True)
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
