#!/usr/bin/env python3
"""Rust guests (Debian's rustc-web with -Zbuild-std for wasm32-wasip1, bindings from the
wit-bindgen crate), through a real `capsule run`.

One host runs the Rust examples (echo, storage counter, requester) and the Rust test guest `noisy`
twice (once to print and panic, once with a small memory limit to run out of it); the tests drive
it with the CLI and read its JSON log as it comes (capsule_process.GuestHostTest).
The compiled components are cached in the host's data dir between runs."""
import pathlib
import sys
import unittest
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import GuestHostTest, capsule, output_lines, wait_for  # noqa: E402

ARGS = None

MANIFEST = """
[host]
name = "rust-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "rust/echo"
path = "rust_echo.wasm"
  [component.limits]
  memory = "{memory}"

[[component]]
name = "rust/counter"
path = "rust_counter.wasm"
  [component.limits]
  memory = "{memory}"
  [component.capabilities]
  "storage.read" = ["count"]
  "storage.write" = ["count"]
  "storage.delete" = ["count"]

[[component]]
name = "rust/requester"
path = "rust_requester.wasm"
  [component.limits]
  memory = "{memory}"
  [component.config]
  target = "rust/echo/0"
  timeout_ms = "5000"
  [component.capabilities]
  "messaging.request" = ["rust/echo/*"]

[[component]]
name = "rust/noisy"
path = "rust_noisy.wasm"
  [component.limits]
  memory = "{memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[[component]]
name = "rust/hog"
path = "rust_noisy.wasm"
  [component.limits]
  memory = "{hog_memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[grants."rust/counter"]
"storage.read" = ["count"]
"storage.write" = ["count"]
"storage.delete" = ["count"]

[grants."rust/requester"]
"messaging.request" = ["rust/echo/*"]
"""


class RustGuests(GuestHostTest):
    @classmethod
    def setUpClass(cls):
        cls.start_host(MANIFEST.format(components=ARGS.components, memory=ARGS.memory,
                                       hog_memory=ARGS.hog_memory),
                       ARGS.cache_dir, ready_timeout=600)

    def test_echo_replies_with_the_payload(self):
        text = "hello from capsule " + uuid.uuid4().hex
        self.assertEqual(self.call("rust/echo/0", text).stdout.strip(), text)
        # Bytes that are not UTF-8 text come back unchanged too.
        self.assertEqual(self.call("rust/echo/0", "\u00e9t\u00e9 \u2603").stdout.strip(),
                         "\u00e9t\u00e9 \u2603")

    def test_counter_keeps_its_value_in_storage_across_a_restart(self):
        self.call("rust/counter/0", "reset")
        self.assertEqual([self.call("rust/counter/0", "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        capsule("restart", *self.cli_args, "rust/counter", admin=self.admin)
        self.assertTrue(wait_for(lambda: self.call("rust/counter/0", "get", check=False)
                                 .stdout.strip() == "3", 30))
        # The init after the restart read the stored value and logged it.
        self.wait_log(lambda e: e.get("component") == "rust/counter/0"
                      and e.get("msg") == "counter ready" and e.get("value") == "3")
        # A returned error is the typed error the caller sees; the instance keeps running.
        bad = self.call("rust/counter/0", "launch", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("unknown command 'launch'", bad.stderr)
        self.assertEqual(self.call("rust/counter/0", "incr").stdout.strip(), "4")

    def test_requester_gets_the_reply_of_another_component(self):
        text = "ping " + uuid.uuid4().hex
        asked = self.call("rust/requester/0", text).stdout.strip()
        self.assertRegex(asked, r"^asked #\d+$")
        self.assertTrue(wait_for(lambda: self.call("rust/requester/0", "last").stdout.strip()
                                 == "reply: " + text, 15))
        finished = self.wait_log(lambda e: e.get("component") == "rust/requester/0"
                                 and e.get("msg") == "request finished"
                                 and e.get("correlation") == asked.split("#")[1])
        self.assertEqual(finished[0]["outcome"], "reply: " + text)

    def test_a_panic_shows_its_message_and_location_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        failed = self.call("rust/noisy/0", "panic " + marker, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("trap", failed.stderr)
        self.wait_log(lambda e: e.get("component") == "rust/noisy/0"
                      and e.get("msg", "") == "guest stderr: " + marker)
        # Rust's panic hook prints where it panicked, then the message.
        err = output_lines(self.host.log(), "rust/noisy/0", "stderr")
        self.assertTrue(any("panicked at " in line and "noisy/src/lib.rs:" in line for line in err),
                        err)
        # The instance was restarted and answers again.
        self.assertTrue(wait_for(lambda: self.call("rust/noisy/0", "stderr ok", check=False)
                                 .returncode == 0, 30))

    def test_stdout_and_stderr_reach_the_host_log(self):
        marker = uuid.uuid4().hex
        self.call("rust/noisy/0", "stderr to stderr " + marker)
        self.call("rust/noisy/0", "print 3")
        self.wait_log(lambda e: e.get("msg") == f"guest stderr: to stderr {marker}")
        self.wait_log(lambda e: e.get("component") == "rust/noisy/0"
                      and e.get("msg") == "guest stdout: noisy line 2")
        lines = output_lines(self.host.log(), "rust/noisy/0", "stdout")
        self.assertIn("noisy line 0", lines)

    def test_allocating_without_bound_is_reported_as_the_memory_limit(self):
        failed = self.call("rust/hog/0", "hog", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn(f"exceeded its memory limit of {ARGS.hog_memory.replace('MiB', ' MiB')}",
                      failed.stderr)
        # The host keeps serving, and the hog comes back.
        self.assertEqual(self.call("rust/echo/0", "still here").stdout.strip(), "still here")
        self.assertTrue(wait_for(lambda: self.call("rust/hog/0", "stderr back", check=False)
                                 .returncode == 0, 30))


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="32MiB")
    parser.add_argument("--hog-memory", default="24MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
