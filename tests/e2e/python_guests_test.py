#!/usr/bin/env python3
"""Python guests (componentize-py) and guest stdout/stderr, through a real `capsule run`.

One host runs the Python examples (echo, storage counter, requester), the Python test guest
`noisy` and the C guest `printer`: the cases every language shares (example_guests.py), py/echo
through the HTTP trigger, a traceback in the host log, and the log rate limit under a flood. The
tests drive the host with the CLI and read its JSON log, which a thread collects while the host
runs (a flood must not fill the pipe and stall the host). The compiled components are cached in
the host's data dir, so only the first run compiles."""
import pathlib
import re
import sys
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import example_guests  # noqa: E402
from capsule_process import output_lines, wait_for  # noqa: E402

# Next to the shared manifest: a C guest that prints, and the HTTP trigger (docs/http.md) in
# front of py/echo.
EXTRA_MANIFEST = """
[[component]]
name = "c/printer"
path = "printer.wasm"

[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/echo"
component = "py/echo"
"""

# The host's default log quota per component (core/limits.hpp GuestQuotas): 200 lines/s, with
# at most one second's worth saved up.
LOG_LINES_PER_SECOND = 200


class PythonGuests(example_guests.ExampleGuestCases):
    LANG = "py"
    EXTRA_MANIFEST = EXTRA_MANIFEST

    def test_an_http_route_reaches_the_python_component(self):
        url = self.host.http_url()
        text = "over http " + uuid.uuid4().hex
        request = urllib.request.Request(url + "/echo/x", data=text.encode(),
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=30) as r:
            self.assertEqual((r.status, r.headers["Content-Type"], r.read().decode()),
                             (200, "text/plain; charset=utf-8", text))

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
    example_guests.ExampleGuestCases.ARGS, rest = example_guests.parse_args()
    unittest.main(argv=[sys.argv[0], *rest])
