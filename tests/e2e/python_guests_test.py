#!/usr/bin/env python3
"""Python guests (componentize-py) and guest stdout/stderr, through a real `capsule run`.

One host runs the Python examples (echo, storage counter, requester), the Python test guest
`noisy` and the C guest `printer`; the tests drive it with the CLI (py/echo also through the
HTTP trigger) and read its JSON log, which a thread collects while the host runs (a flood must
not fill the pipe and stall the host). The compiled components are cached in the host's data
dir, so only the first run compiles."""
import pathlib
import re
import sys
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import GuestHostTest, capsule, output_lines, wait_for  # noqa: E402

ARGS = None

MANIFEST = """
[host]
name = "py-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "py/echo"
path = "py_echo.wasm"
  [component.limits]
  memory = "{memory}"

[[component]]
name = "py/counter"
path = "py_counter.wasm"
  [component.limits]
  memory = "{memory}"
  [component.capabilities]
  "storage.read" = ["count"]
  "storage.write" = ["count"]
  "storage.delete" = ["count"]

[[component]]
name = "py/requester"
path = "py_requester.wasm"
  [component.limits]
  memory = "{memory}"
  [component.config]
  target = "py/echo/0"
  timeout_ms = "5000"
  [component.capabilities]
  "messaging.request" = ["py/echo/*"]

[[component]]
name = "py/noisy"
path = "py_noisy.wasm"
  [component.limits]
  memory = "{memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[[component]]
name = "c/printer"
path = "printer.wasm"

[grants."py/counter"]
"storage.read" = ["count"]
"storage.write" = ["count"]
"storage.delete" = ["count"]

[grants."py/requester"]
"messaging.request" = ["py/echo/*"]

# The HTTP trigger (docs/http.md) in front of a Python component.
[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/echo"
component = "py/echo"
"""

# The host's default log quota per component (core/limits.hpp GuestQuotas): 200 lines/s, with
# at most one second's worth saved up.
LOG_LINES_PER_SECOND = 200


class PythonGuests(GuestHostTest):
    @classmethod
    def setUpClass(cls):
        # A cold start compiles every Python component.
        cls.start_host(MANIFEST.format(components=ARGS.components, memory=ARGS.memory),
                       ARGS.cache_dir, ready_timeout=300)

    def test_echo_replies_with_the_payload(self):
        text = "hello from capsule " + uuid.uuid4().hex
        self.assertEqual(self.call("py/echo/0", text).stdout.strip(), text)

    def test_an_http_route_reaches_the_python_component(self):
        url = self.host.http_url()
        text = "over http " + uuid.uuid4().hex
        request = urllib.request.Request(url + "/echo/x", data=text.encode(),
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=30) as r:
            self.assertEqual((r.status, r.headers["Content-Type"], r.read().decode()),
                             (200, "text/plain; charset=utf-8", text))

    def test_counter_keeps_its_value_in_storage_across_a_restart(self):
        self.call("py/counter/0", "reset")
        self.assertEqual([self.call("py/counter/0", "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        capsule("restart", *self.cli_args, "py/counter", admin=self.admin)
        self.assertTrue(wait_for(lambda: self.call("py/counter/0", "get", check=False)
                                 .stdout.strip() == "3", 30))
        bad = self.call("py/counter/0", "launch", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("unknown command 'launch'", bad.stderr)
        self.assertEqual(self.call("py/counter/0", "incr").stdout.strip(), "4")

    def test_requester_gets_the_reply_of_another_component(self):
        text = "ping " + uuid.uuid4().hex
        asked = self.call("py/requester/0", text).stdout.strip()
        self.assertRegex(asked, r"^asked #\d+$")
        self.assertTrue(wait_for(lambda: self.call("py/requester/0", "last").stdout.strip()
                                 == "reply: " + text, 15))
        finished = self.wait_log(lambda e: e.get("component") == "py/requester/0"
                                 and e.get("msg") == "request finished"
                                 and e.get("correlation") == asked.split("#")[1])
        self.assertEqual(finished[0]["outcome"], "reply: " + text)

    def test_an_uncaught_exception_shows_its_traceback_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        failed = self.call("py/noisy/0", "raise " + marker, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("trap", failed.stderr)
        self.wait_log(lambda e: e.get("msg") == "guest stderr: RuntimeError: " + marker)
        err = output_lines(self.host.log(), "py/noisy/0", "stderr")
        end = err.index("RuntimeError: " + marker)
        start = max(i for i in range(end) if err[i] == "Traceback (most recent call last):")
        frames = err[start + 1:end]
        self.assertTrue(any(re.search(r'File ".*noisy\.py", line \d+, in handle_message', f)
                            for f in frames), frames)
        self.assertTrue(any(re.search(r'File ".*noisy\.py", line \d+, in fail', f)
                            for f in frames), frames)
        levels = {e["level"] for e in self.host.log()
                  if e.get("msg", "").startswith("guest stderr: ")}
        self.assertEqual(levels, {"warn"})
        # The instance was restarted and answers again.
        self.assertTrue(wait_for(lambda: self.call("py/noisy/0", "stderr ok", check=False)
                                 .returncode == 0, 30))

    def test_python_print_and_c_printf_reach_the_host_log(self):
        marker = uuid.uuid4().hex
        self.assertEqual(self.call("c/printer/0", "hello " + marker).stdout.strip(), "printed")
        self.call("py/noisy/0", "stderr to stderr " + marker)
        self.wait_log(lambda e: e.get("msg") == f"guest stderr: to stderr {marker}")
        self.wait_log(lambda e: e.get("msg") == f"guest stdout: printer got: hello {marker}")
        printed = [e for e in self.host.log()
                   if e.get("msg") == f"guest stdout: printer got: hello {marker}"]
        self.assertEqual(len(printed), 1)
        self.assertEqual(printed[0]["component"], "c/printer/0")
        self.assertEqual(printed[0]["level"], "info")

    def test_a_flood_of_prints_is_held_to_the_log_rate_limit(self):
        for target, command, pattern in (("c/printer/0", "flood 20000", r"printer flood line \d+"),
                                         ("py/noisy/0", "print 5000", r"noisy line \d+")):
            with self.subTest(target=target):
                ns_name = target.rsplit("/", 1)[0]
                total = int(command.split()[1])
                before = len(self.host.log())
                began = time.monotonic()
                self.call(target, command)
                took = time.monotonic() - began
                # The next line that passes after a pause reports the last drops: sent last.
                time.sleep(1.1)
                self.call(target, "stderr after" if target.startswith("py") else "after")
                tail = ("guest stderr: after" if target.startswith("py")
                        else "guest stdout: printer got: after")
                self.wait_log(lambda e: e.get("component") == target and e.get("msg") == tail)
                log = self.host.log()[before:]
                written = [l for l in output_lines(log, target, "stdout") if re.fullmatch(pattern, l)]
                # At most the saved-up second plus what the rate allows while the call ran.
                self.assertLessEqual(len(written), LOG_LINES_PER_SECOND * (1 + took) + 1)
                self.assertGreater(len(written), 0)
                self.assertTrue(any(e.get("msg", "").startswith(ns_name + " reached its log rate limit")
                                    for e in log))
                # Every line is either written or counted as dropped, none is lost silently. Drop
                # notices are host lines: identical ones (same count) within the host's repeat
                # window are written once, then summarised "[repeated k more times ...]" when the
                # window ends, up to 10 s later - so the count is awaited, repeats included.
                notice = re.compile(re.escape(ns_name) + r": (\d+) log lines \(\d+ bytes\) were "
                                    r"dropped(?: \[repeated (\d+) more times?)?")

                def dropped_in(entries):
                    counts = []
                    for e in entries:
                        m = notice.match(e.get("msg", ""))
                        if m:
                            counts.append(int(m.group(1)) * (int(m.group(2)) if m.group(2) else 1))
                    return counts

                wait_for(lambda: sum(dropped_in(self.host.log()[before:])) + len(written) == total,
                         15)
                dropped = dropped_in(self.host.log()[before:])
                self.assertTrue(dropped)
                self.assertEqual(sum(dropped) + len(written), total)
                # The host kept serving.
                self.assertEqual(self.call("py/echo/0", "still here").stdout.strip(), "still here")


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="16MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    unittest.main(argv=[sys.argv[0], *rest])
