#!/usr/bin/env python3
"""Go guests (the machine's Go, GOOS=wasip1, bindings from `wit-bindgen go`), through a real
`capsule run`.

One host runs the Go examples (echo, storage counter, requester) and the Go test guest `noisy`
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
name = "go-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "go/echo"
path = "go_echo.wasm"
  [component.limits]
  memory = "{memory}"

[[component]]
name = "go/counter"
path = "go_counter.wasm"
  [component.limits]
  memory = "{memory}"
  [component.capabilities]
  "storage.read" = ["count"]
  "storage.write" = ["count"]
  "storage.delete" = ["count"]

[[component]]
name = "go/requester"
path = "go_requester.wasm"
  [component.limits]
  memory = "{memory}"
  [component.config]
  target = "go/echo/0"
  timeout_ms = "5000"
  [component.capabilities]
  "messaging.request" = ["go/echo/*"]

[[component]]
name = "go/noisy"
path = "go_noisy.wasm"
instances = 2
  [component.limits]
  memory = "{memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[[component]]
name = "go/hog"
path = "go_noisy.wasm"
  [component.limits]
  memory = "{hog_memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[grants."go/counter"]
"storage.read" = ["count"]
"storage.write" = ["count"]
"storage.delete" = ["count"]

[grants."go/requester"]
"messaging.request" = ["go/echo/*"]
"""


class GoGuests(GuestHostTest):
    @classmethod
    def setUpClass(cls):
        cls.start_host(MANIFEST.format(components=ARGS.components, memory=ARGS.memory,
                                       hog_memory=ARGS.hog_memory),
                       ARGS.cache_dir, ready_timeout=600)

    def test_echo_replies_with_the_payload(self):
        text = "hello from capsule " + uuid.uuid4().hex
        self.assertEqual(self.call("go/echo/0", text).stdout.strip(), text)
        # Bytes that are not UTF-8 text come back unchanged too.
        self.assertEqual(self.call("go/echo/0", "\u00e9t\u00e9 \u2603").stdout.strip(),
                         "\u00e9t\u00e9 \u2603")

    def test_counter_keeps_its_value_in_storage_across_a_restart(self):
        self.call("go/counter/0", "reset")
        self.assertEqual([self.call("go/counter/0", "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        capsule("restart", *self.cli_args, "go/counter", admin=self.admin)
        self.assertTrue(wait_for(lambda: self.call("go/counter/0", "get", check=False)
                                 .stdout.strip() == "3", 30))
        # The init after the restart read the stored value and logged it.
        self.wait_log(lambda e: e.get("component") == "go/counter/0"
                      and e.get("msg") == "counter ready" and e.get("value") == "3")
        # A returned error is the typed error the caller sees; the instance keeps running.
        bad = self.call("go/counter/0", "launch", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("unknown command 'launch'", bad.stderr)
        self.assertEqual(self.call("go/counter/0", "incr").stdout.strip(), "4")

    def test_requester_gets_the_reply_of_another_component(self):
        text = "ping " + uuid.uuid4().hex
        asked = self.call("go/requester/0", text).stdout.strip()
        self.assertRegex(asked, r"^asked #\d+$")
        self.assertTrue(wait_for(lambda: self.call("go/requester/0", "last").stdout.strip()
                                 == "reply: " + text, 15))
        finished = self.wait_log(lambda e: e.get("component") == "go/requester/0"
                                 and e.get("msg") == "request finished"
                                 and e.get("correlation") == asked.split("#")[1])
        self.assertEqual(finished[0]["outcome"], "reply: " + text)

    def test_a_panic_shows_its_message_and_stack_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        failed = self.call("go/noisy/0", "panic " + marker, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("trap", failed.stderr)
        self.wait_log(lambda e: e.get("component") == "go/noisy/0"
                      and e.get("msg", "").startswith("guest stderr: ") and marker in e["msg"])
        # The Go runtime prints the panic and the goroutine's stack, frames named.
        self.assertTrue(wait_for(lambda: any("export_capsule_core_lifecycle.fail" in line for line in
                                             output_lines(self.host.log(), "go/noisy/0", "stderr")),
                                 15))
        err = output_lines(self.host.log(), "go/noisy/0", "stderr")
        self.assertIn("panic: " + marker, err)
        self.assertTrue(any("HandleMessage" in line for line in err), err)
        # The instance was restarted and answers again.
        self.assertTrue(wait_for(lambda: self.call("go/noisy/0", "stderr ok", check=False)
                                 .returncode == 0, 30))

    def test_stdout_and_stderr_reach_the_host_log(self):
        marker = uuid.uuid4().hex
        self.call("go/noisy/0", "stderr to stderr " + marker)
        self.call("go/noisy/0", "print 3")
        self.wait_log(lambda e: e.get("msg") == f"guest stderr: to stderr {marker}")
        self.wait_log(lambda e: e.get("component") == "go/noisy/0"
                      and e.get("msg") == "guest stdout: noisy line 2")
        lines = output_lines(self.host.log(), "go/noisy/0", "stdout")
        self.assertIn("noisy line 0", lines)

    def test_a_heap_grown_past_the_start_keeps_wasi_working(self):
        # The Go heap grows through the memory above Go's data, where the WASI adapter's pages
        # would be if it took them with memory.grow: output and clocks must still work after.
        self.assertEqual(self.call("go/noisy/1", "grow 12").stdout.strip(), "holding 12 MiB")
        marker = uuid.uuid4().hex
        self.call("go/noisy/1", "stderr after growing " + marker)
        self.wait_log(lambda e: e.get("component") == "go/noisy/1"
                      and e.get("msg") == f"guest stderr: after growing {marker}")
        self.assertEqual(self.call("go/noisy/1", "grow 4").stdout.strip(), "holding 16 MiB")

    def test_allocating_without_bound_is_reported_as_the_memory_limit(self):
        failed = self.call("go/hog/0", "hog", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn(f"exceeded its memory limit of {ARGS.hog_memory.replace('MiB', ' MiB')}",
                      failed.stderr)
        # The host keeps serving, and the hog comes back.
        self.assertEqual(self.call("go/echo/0", "still here").stdout.strip(), "still here")
        self.assertTrue(wait_for(lambda: self.call("go/hog/0", "stderr back", check=False)
                                 .returncode == 0, 30))


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="32MiB")
    parser.add_argument("--hog-memory", default="24MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
