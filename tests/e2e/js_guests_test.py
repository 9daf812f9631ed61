#!/usr/bin/env python3
"""JavaScript guests (componentize-js), through a real `capsule run`.

One host runs the JavaScript examples (echo, storage counter, requester) and the JavaScript test
guest `noisy` twice (once to print and throw, once with a small memory limit to run out of it);
the tests drive it with the CLI and read its JSON log as it comes (capsule_process.HostProcess).
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
name = "js-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "js/echo"
path = "js_echo.wasm"
  [component.limits]
  memory = "{memory}"

[[component]]
name = "js/counter"
path = "js_counter.wasm"
  [component.limits]
  memory = "{memory}"
  [component.capabilities]
  "storage.read" = ["count"]
  "storage.write" = ["count"]
  "storage.delete" = ["count"]

[[component]]
name = "js/requester"
path = "js_requester.wasm"
  [component.limits]
  memory = "{memory}"
  [component.config]
  target = "js/echo/0"
  timeout_ms = "5000"
  [component.capabilities]
  "messaging.request" = ["js/echo/*"]

[[component]]
name = "js/noisy"
path = "js_noisy.wasm"
  [component.limits]
  memory = "{memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[[component]]
name = "js/hog"
path = "js_noisy.wasm"
  [component.limits]
  memory = "{hog_memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[grants."js/counter"]
"storage.read" = ["count"]
"storage.write" = ["count"]
"storage.delete" = ["count"]

[grants."js/requester"]
"messaging.request" = ["js/echo/*"]
"""


class JavaScriptGuests(GuestHostTest):
    @classmethod
    def setUpClass(cls):
        cls.start_host(MANIFEST.format(components=ARGS.components, memory=ARGS.memory,
                                       hog_memory=ARGS.hog_memory),
                       ARGS.cache_dir, ready_timeout=600)

    def test_echo_replies_with_the_payload(self):
        text = "hello from capsule " + uuid.uuid4().hex
        self.assertEqual(self.call("js/echo/0", text).stdout.strip(), text)

    def test_counter_keeps_its_value_in_storage_across_a_restart(self):
        self.call("js/counter/0", "reset")
        self.assertEqual([self.call("js/counter/0", "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        capsule("restart", *self.cli_args, "js/counter", admin=self.admin)
        self.assertTrue(wait_for(lambda: self.call("js/counter/0", "get", check=False)
                                 .stdout.strip() == "3", 30))
        # A thrown variant object is the typed error the caller sees; the instance keeps running.
        bad = self.call("js/counter/0", "launch", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("unknown command 'launch'", bad.stderr)
        self.assertEqual(self.call("js/counter/0", "incr").stdout.strip(), "4")

    def test_requester_gets_the_reply_of_another_component(self):
        text = "ping " + uuid.uuid4().hex
        asked = self.call("js/requester/0", text).stdout.strip()
        self.assertRegex(asked, r"^asked #\d+$")
        self.assertTrue(wait_for(lambda: self.call("js/requester/0", "last").stdout.strip()
                                 == "reply: " + text, 15))
        finished = self.wait_log(lambda e: e.get("component") == "js/requester/0"
                                 and e.get("msg") == "request finished"
                                 and e.get("correlation") == asked.split("#")[1])
        self.assertEqual(finished[0]["outcome"], "reply: " + text)

    def test_a_thrown_exception_shows_its_message_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        failed = self.call("js/noisy/0", "throw " + marker, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("trap", failed.stderr)
        self.wait_log(lambda e: e.get("component") == "js/noisy/0"
                      and e.get("msg", "").startswith("guest stderr: ") and marker in e["msg"])
        err = output_lines(self.host.log(), "js/noisy/0", "stderr")
        # componentize-js 0.23 tries to lower the uncaught Error as the `error` variant, fails,
        # prints that failure with the Error's text (not the Error's own stack) and aborts.
        self.assertTrue(any(("Error: " + marker) in line for line in err), err)
        # The instance was restarted and answers again.
        self.assertTrue(wait_for(lambda: self.call("js/noisy/0", "stderr ok", check=False)
                                 .returncode == 0, 30))

    def test_console_output_reaches_the_host_log(self):
        marker = uuid.uuid4().hex
        self.call("js/noisy/0", "stderr to stderr " + marker)
        self.call("js/noisy/0", "print 3")
        self.wait_log(lambda e: e.get("msg") == f"guest stderr: to stderr {marker}")
        self.wait_log(lambda e: e.get("component") == "js/noisy/0"
                      and e.get("msg") == "guest stdout: noisy line 2")
        lines = output_lines(self.host.log(), "js/noisy/0", "stdout")
        self.assertIn("noisy line 0", lines)

    def test_allocating_without_bound_is_reported_as_the_memory_limit(self):
        failed = self.call("js/hog/0", "hog", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn(f"exceeded its memory limit of {ARGS.hog_memory.replace('MiB', ' MiB')}",
                      failed.stderr)
        # The host keeps serving, and the hog comes back.
        self.assertEqual(self.call("js/echo/0", "still here").stdout.strip(), "still here")
        self.assertTrue(wait_for(lambda: self.call("js/hog/0", "stderr back", check=False)
                                 .returncode == 0, 30))


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="32MiB")
    parser.add_argument("--hog-memory", default="24MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
