#!/usr/bin/env python3
"""GET /metrics of a real `capsule run`, scraped with `capsule metrics` over the admin socket
before and after traffic (sends, calls, a call that times out, dead letters, sends a full
mailbox refuses), and of hosts running with --cluster: every scrape must pass `promtool check
metrics` (Debian's prometheus package) without a single complaint, lint included, carry no label
named `instance` (Prometheus gives that label to every scraped target), and the counters must
move with the traffic."""
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import unittest

ARGS = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "cluster"))
import nats_process  # noqa: E402

MANIFEST = """
[host]
name = "metrics"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "demo/echo"
path = "echo.wasm"
instances = 2

[[component]]
name = "demo/sleeper"
path = "sleeper.wasm"

# Holds one message while it sleeps on another: the next ones are refused (mailbox full).
[[component]]
name = "demo/slow"
path = "sleeper.wasm"
  [component.mailbox]
  capacity = 1
  policy = "error"

# Publishes every message it gets to a topic nobody subscribes to: each one is a dead letter.
[[component]]
name = "demo/announce"
path = "relay.wasm"
  [component.config]
  mode = "forward"
  topic = "nobody.listens"
  tag = "x"
  [component.capabilities]
  "messaging.publish" = ["nobody.listens"]

[grants."demo/announce"]
"messaging.publish" = ["nobody.listens"]
"""

CLUSTER_MANIFEST = """
[host]
name = "{name}"
data_dir = "data-{name}"
components_dir = "{components}"

[[component]]
name = "{ns}/echo"
path = "echo.wasm"
"""

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def promtool_problems(text):
    """promtool's complaints about `text` ("" when none), with its exit status."""
    r = subprocess.run([ARGS.promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def samples(text):
    """{(name, labels text): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(text, name, labels=""):
    return samples(text).get((name, labels))


class MetricsChecks(unittest.TestCase):
    def assert_valid(self, text):
        """promtool accepts `text` as it is, and nothing uses the `instance` label."""
        status, problems = promtool_problems(text)
        self.assertEqual((status, problems), (0, ""), "promtool check metrics complained:\n"
                         + problems + "\n--- scraped text ---\n" + text)
        self.assertIsNone(re.search(r'[{,]instance="', text), text)
        # Every sample belongs to a family with HELP and TYPE (histogram series by their base).
        typed = set(re.findall(r'^# TYPE (\S+) ', text, re.M))
        helped = set(re.findall(r'^# HELP (\S+) ', text, re.M))
        self.assertEqual(typed, helped)
        for name, _ in samples(text):
            base = re.sub(r'_(bucket|sum|count)$', '', name)
            self.assertTrue(name in typed or base in typed, f"{name} has no TYPE line")


class SingleHostMetrics(MetricsChecks):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.manifest = self.dir / "app.toml"
        self.manifest.write_text(MANIFEST.format(components=ARGS.components))
        self.host = HostProcess(self.manifest)

    def tearDown(self):
        self.host.kill(signal.SIGTERM)
        self.tmp.cleanup()

    def scrape(self):
        return capsule("metrics", admin=self.host.admin).stdout

    def test_promtool_accepts_every_scrape_and_counters_follow_traffic(self):
        a = self.host.admin
        echo0 = '{component="demo/echo",component_instance="demo/echo/0"}'
        echo1 = '{component="demo/echo",component_instance="demo/echo/1"}'
        before = self.scrape()
        self.assert_valid(before)
        self.assertEqual(value(before, "capsule_instance_up", echo0), 1)
        self.assertEqual(value(before, "capsule_instance_messages_total", echo0), 0)
        self.assertEqual(value(before, "capsule_dead_letters_total", '{reason="no-subscribers"}'), 0)
        self.assertEqual(value(before, "capsule_requests_total", '{outcome="timed_out"}'), 0)
        self.assertEqual(value(before, "capsule_requests_started_total"), 0)
        self.assertEqual(value(before, "capsule_mailbox_backpressure_total"), 0)

        sends, calls, dead = 7, 3, 4
        for i in range(sends):
            capsule("send", "demo/echo/0", f"hello-{i}", admin=a)
        for i in range(calls):
            self.assertEqual(capsule("call", "demo/echo/1", f"ping-{i}", admin=a).stdout.strip(), f"ping-{i}")
        late = capsule("call", "demo/sleeper/0", "1500", "--timeout-ms", "100", admin=a, check=False)
        self.assertNotEqual(late.returncode, 0, late.stdout)
        self.assertIn("no reply from demo/sleeper/0 within 100 ms", late.stderr)
        for i in range(dead):
            capsule("send", "demo/announce/0", f"news-{i}", admin=a)
        capsule("send", "demo/slow/0", "1500", admin=a)
        refused = 0
        for _ in range(3):
            r = capsule("send", "demo/slow/0", "1", admin=a, check=False)
            if r.returncode != 0:
                self.assertIn("mailbox", r.stderr)
                refused += 1
        self.assertGreaterEqual(refused, 1)

        # Fire-and-forget sends are handled asynchronously: wait until all of them were.
        self.assertTrue(wait_for(
            lambda: value(self.scrape(), "capsule_instance_messages_total", echo0) == sends
            and value(self.scrape(), "capsule_dead_letters_total", '{reason="no-subscribers"}') == dead),
            self.scrape())
        after = self.scrape()
        self.assert_valid(after)
        self.assertEqual(value(after, "capsule_instance_messages_total", echo0), sends)
        self.assertEqual(value(after, "capsule_instance_messages_enqueued_total", echo0), sends)
        self.assertEqual(value(after, "capsule_instance_messages_total", echo1), calls)
        self.assertEqual(value(after, "capsule_instance_calls_total", echo1), calls)
        self.assertEqual(value(after, "capsule_dead_letters_total", '{reason="no-subscribers"}'), dead)
        self.assertEqual(value(after, "capsule_mailbox_backpressure_total"), refused)
        self.assertEqual(value(after, "capsule_requests_total", '{outcome="timed_out"}'), 1)
        self.assertEqual(value(after, "capsule_requests_total", '{outcome="replied"}'), calls)
        self.assertEqual(value(after, "capsule_requests_started_total"), calls + 1)
        self.assertEqual(value(after, "capsule_request_duration_seconds_count"), calls + 1)
        self.assertGreater(value(after, "capsule_instance_fuel_consumed_total", echo0), 0)
        self.assertGreaterEqual(value(after, "capsule_engine_instances_created_total"), 4)
        # Without a limit of its own an instance is held to the engine's default, never "0 bytes".
        self.assertGreater(value(after, "capsule_instance_memory_limit_bytes", echo0), 0)
        # No cluster, no cluster series.
        self.assertNotIn("capsule_cluster_", after)

    def test_promtool_catches_what_this_test_guards_against(self):
        # The check must be able to fail: promtool does flag a counter not named *_total.
        status, problems = promtool_problems(
            "# HELP capsule_bad Bad.\n# TYPE capsule_bad counter\ncapsule_bad 1\n")
        self.assertNotEqual((status, problems), (0, ""))
        self.assertIn("_total", problems)


class ClusterHostMetrics(MetricsChecks):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = pathlib.Path(self.tmp.name)
        self.nats = nats_process.NatsServer(ARGS.nats_server)
        self.hosts = []
        for name, ns in (("alpha", "a"), ("beta", "b")):
            (d / f"{name}.toml").write_text(
                CLUSTER_MANIFEST.format(name=name, ns=ns, components=ARGS.components))
            self.hosts.append(HostProcess(d / f"{name}.toml", None, "--cluster", self.nats.url))

    def tearDown(self):
        for h in self.hosts:
            h.kill(signal.SIGTERM)
        self.nats.close()
        self.tmp.cleanup()

    def test_bridge_counters_are_exported_and_valid(self):
        alpha, beta = self.hosts
        # alpha calls beta's echo across NATS once beta's heartbeat arrived.
        self.assertTrue(wait_for(lambda: capsule("call", "b/echo/0", "x", admin=alpha.admin,
                                                 check=False).returncode == 0))
        for i in range(3):
            self.assertEqual(capsule("call", "b/echo/0", f"hi-{i}", admin=alpha.admin).stdout.strip(), f"hi-{i}")
        text = capsule("metrics", admin=alpha.admin).stdout
        self.assert_valid(text)
        self.assertEqual(value(text, "capsule_cluster_connected"), 1)
        self.assertEqual(value(text, "capsule_cluster_peer_hosts"), 1)
        self.assertGreaterEqual(value(text, "capsule_cluster_messages_sent_total"), 4)
        self.assertGreaterEqual(value(text, "capsule_cluster_replies_total"), 4)
        for family in ("requests_failed_by_host_loss", "inbound_dropped", "malformed_messages",
                       "reconnects", "unmatched_replies", "mismatched_replies", "forged_messages",
                       "hosts_declared_dead", "oversized_publishes"):
            self.assertEqual(value(text, f"capsule_cluster_{family}_total"), 0, family)
        served = capsule("metrics", admin=beta.admin).stdout
        self.assert_valid(served)
        self.assertGreaterEqual(value(served, "capsule_cluster_messages_received_total"), 4)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--promtool", required=True)
    parser.add_argument("--nats-server", required=True)
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
