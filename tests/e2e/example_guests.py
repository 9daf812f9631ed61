"""The example guests every language has - echo, a storage counter, a requester - and its test
guest `noisy` (prints, crashes and allocates on command), run by one `capsule run`: the manifest
and the test cases that the Python, JavaScript, Go and Rust guest tests share (python_guests_test.py,
js_guests_test.py, go_guests_test.py, rust_guests_test.py). Each language's file sets LANG and
adds what is its own, such as how an uncaught failure reaches the host log."""
import argparse
import uuid

import capsule_process
from capsule_process import GuestHostTest, capsule, output_lines, wait_for

MANIFEST = """
[host]
name = "{lang}-e2e"
data_dir = "data"
components_dir = "{components}"

[[component]]
name = "{lang}/echo"
path = "{lang}_echo.wasm"
  [component.limits]
  memory = "{memory}"

[[component]]
name = "{lang}/counter"
path = "{lang}_counter.wasm"
  [component.limits]
  memory = "{memory}"
  [component.capabilities]
  "storage.read" = ["count"]
  "storage.write" = ["count"]
  "storage.delete" = ["count"]

[[component]]
name = "{lang}/requester"
path = "{lang}_requester.wasm"
  [component.limits]
  memory = "{memory}"
  [component.config]
  target = "{lang}/echo/0"
  timeout_ms = "5000"
  [component.capabilities]
  "messaging.request" = ["{lang}/echo/*"]

[[component]]
name = "{lang}/noisy"
path = "{lang}_noisy.wasm"
instances = {noisy_instances}
  [component.limits]
  memory = "{memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[[component]]
name = "{lang}/hog"
path = "{lang}_noisy.wasm"
  [component.limits]
  memory = "{hog_memory}"
  [component.supervision]
  max_restarts = 20
  window_ms = 60000
  backoff_ms = 1

[grants."{lang}/counter"]
"storage.read" = ["count"]
"storage.write" = ["count"]
"storage.delete" = ["count"]

[grants."{lang}/requester"]
"messaging.request" = ["{lang}/echo/*"]
{extra}"""


def parse_args():
    """The command line every language's test takes; the rest goes to unittest."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", default="32MiB")
    parser.add_argument("--hog-memory", default="24MiB")
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    return capsule_process.parse_args(parser)


class ExampleGuestCases(GuestHostTest):
    """The shared cases. A subclass sets LANG (the namespace and the file prefix: "go" serves
    go/echo from go_echo.wasm), ARGS (from parse_args) and, if it needs more, NOISY_INSTANCES
    and EXTRA_MANIFEST (TOML appended to the manifest)."""
    LANG = None
    ARGS = None
    NOISY_INSTANCES = 1
    EXTRA_MANIFEST = ""

    @classmethod
    def setUpClass(cls):
        args = cls.ARGS
        cls.start_host(MANIFEST.format(lang=cls.LANG, components=args.components,
                                       memory=args.memory, hog_memory=args.hog_memory,
                                       noisy_instances=cls.NOISY_INSTANCES,
                                       extra=cls.EXTRA_MANIFEST),
                       args.cache_dir, ready_timeout=600)

    def id_of(self, name, instance=0):
        return f"{self.LANG}/{name}/{instance}"

    def test_echo_replies_with_the_payload(self):
        text = "hello from capsule " + uuid.uuid4().hex
        self.assertEqual(self.call(self.id_of("echo"), text).stdout.strip(), text)
        # Text beyond ASCII comes back unchanged too.
        self.assertEqual(self.call(self.id_of("echo"), "\u00e9t\u00e9 \u2603").stdout.strip(),
                         "\u00e9t\u00e9 \u2603")

    def test_counter_keeps_its_value_in_storage_across_a_restart(self):
        counter = self.id_of("counter")
        self.call(counter, "reset")
        self.assertEqual([self.call(counter, "incr").stdout.strip() for _ in range(3)],
                         ["1", "2", "3"])
        capsule("restart", *self.cli_args, f"{self.LANG}/counter", admin=self.admin)
        self.assertTrue(wait_for(lambda: self.call(counter, "get", check=False)
                                 .stdout.strip() == "3", 30))
        # The init after the restart read the stored value and logged it.
        self.wait_log(lambda e: e.get("component") == counter
                      and e.get("msg") == "counter ready" and e.get("value") == "3")
        # A typed error for the caller; the instance keeps running.
        bad = self.call(counter, "launch", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("unknown command 'launch'", bad.stderr)
        self.assertEqual(self.call(counter, "incr").stdout.strip(), "4")

    def test_requester_gets_the_reply_of_another_component(self):
        requester = self.id_of("requester")
        text = "ping " + uuid.uuid4().hex
        asked = self.call(requester, text).stdout.strip()
        self.assertRegex(asked, r"^asked #\d+$")
        self.assertTrue(wait_for(lambda: self.call(requester, "last").stdout.strip()
                                 == "reply: " + text, 15))
        finished = self.wait_log(lambda e: e.get("component") == requester
                                 and e.get("msg") == "request finished"
                                 and e.get("correlation") == asked.split("#")[1])
        self.assertEqual(finished[0]["outcome"], "reply: " + text)

    def test_stdout_and_stderr_reach_the_host_log(self):
        noisy = self.id_of("noisy")
        marker = uuid.uuid4().hex
        self.call(noisy, "stderr to stderr " + marker)
        self.call(noisy, "print 3")
        self.wait_log(lambda e: e.get("msg") == f"guest stderr: to stderr {marker}")
        self.wait_log(lambda e: e.get("component") == noisy
                      and e.get("msg") == "guest stdout: noisy line 2")
        self.assertIn("noisy line 0", output_lines(self.host.log(), noisy, "stdout"))

    def test_allocating_without_bound_is_reported_as_the_memory_limit(self):
        hog = self.id_of("hog")
        failed = self.call(hog, "hog", check=False)
        self.assertNotEqual(failed.returncode, 0)
        limit = self.ARGS.hog_memory.replace("MiB", " MiB")
        self.assertIn(f"exceeded its memory limit of {limit}", failed.stderr)
        # The host keeps serving, and the hog comes back.
        self.assertEqual(self.call(self.id_of("echo"), "still here").stdout.strip(), "still here")
        self.assertTrue(wait_for(lambda: self.call(hog, "stderr back", check=False)
                                 .returncode == 0, 30))

    def assert_crash_restarts(self, command, stderr_predicate):
        """`command` makes noisy fail uncaught: the caller sees a trap, the host log gets the
        guest's stderr line `stderr_predicate` accepts, and the restarted instance answers."""
        noisy = self.id_of("noisy")
        failed = self.call(noisy, command, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("trap", failed.stderr)
        self.wait_log(lambda e: e.get("component") == noisy
                      and e.get("msg", "").startswith("guest stderr: ")
                      and stderr_predicate(e["msg"][len("guest stderr: "):]))
        self.assertTrue(wait_for(lambda: self.call(noisy, "stderr ok", check=False)
                                 .returncode == 0, 30))
        return output_lines(self.host.log(), noisy, "stderr")
