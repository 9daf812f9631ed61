"""`capsule run` at scale, as a user runs it: thousands of instances of one small component each
answer through the admin endpoint, and a manifest no layout can serve is refused at start with
the numbers and the setting to change - an exit with an error line, never an abort.

The 100,000-instance run is a benchmark (bench/component/run_scale.py), not a test: it needs
vm.max_map_count raised, which a test must not do to a shared machine."""
import http.client
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import unittest

import capsule_process as cp

ARGS = None
INSTANCES = 10_000


def manifest(root, instances, memory):
    text = f"""
[host]
name = "scale"
data_dir = "{root}/data"
components_dir = "{ARGS.components}"

[[component]]
name = "scale/echo"
path = "echo.wasm"
instances = {instances}
  [component.limits]
  memory = "{memory}"
"""
    path = pathlib.Path(root) / "app.toml"
    path.write_text(text)
    return path


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Scale(unittest.TestCase):
    def test_every_instance_of_a_large_host_answers(self):
        with tempfile.TemporaryDirectory() as root:
            host = cp.HostProcess(manifest(root, INSTANCES, "1MiB"), "127.0.0.1:0")
            try:
                sized = [json.loads(l) for l in host.lines if "engine sized" in l]
                self.assertEqual(len(sized), 1, "".join(host.lines))
                self.assertIn("pooled", sized[0]["memory"])
                ip, port = host.tcp.split(":")
                auth = {"Authorization": f"Bearer {host.token()}"}
                conn = http.client.HTTPConnection(ip, int(port), timeout=10)
                wrong = []
                for i in range(INSTANCES):
                    # bytes: sent with the headers in one write (no Nagle/delayed-ACK stall)
                    body = json.dumps({"target": f"scale/echo/{i}",
                                       "payload": f"ping-{i}"}).encode()
                    conn.request("POST", "/v1/call", body,
                                 {"Content-Type": "application/json", **auth})
                    answer = conn.getresponse()
                    reply = json.loads(answer.read())
                    if answer.status != 200 or f"ping-{i}" not in json.dumps(reply):
                        wrong.append((i, answer.status, reply))
                conn.close()
                self.assertEqual(wrong[:5], [], f"{len(wrong)} of {INSTANCES} did not answer")
                print(f"{INSTANCES} instances answered; host RSS {rss_kib(host.proc.pid) >> 10} MiB",
                      file=sys.stderr)
                self.assertEqual(host.terminate(), 0)
            finally:
                host.kill()

    def refused(self, instances, memory, *words, address_space=None):
        def limit():
            if address_space:
                resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        with tempfile.TemporaryDirectory() as root:
            r = subprocess.run([cp.CAPSULE, "run", str(manifest(root, instances, memory)),
                                "--admin", "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=60, preexec_fn=limit)
            output = r.stdout + r.stderr
            self.assertEqual(r.returncode, 1, f"refused with an error exit, not a signal:\n{output}")
            for w in words:
                self.assertIn(w, output)
            self.assertNotIn("panicked", output)
            self.assertNotIn("Fatal glibc error", output)
            return output

    @unittest.skipIf(os.environ.get("CAPSULE_SANITIZER"),
                     "a sanitizer's shadow memory cannot be reserved under ulimit -v")
    def test_more_instances_than_the_process_can_hold_are_refused_with_the_setting(self):
        # 100,000 instances under `ulimit -v 4 GiB`: whichever runs out first (the kernel's map
        # limit, or the address space) is named with the setting that raises it.
        out = self.refused(100_000, "1MiB", "100,000 component instances", "app.toml",
                           address_space=4 << 30)
        if "vm.max_map_count" in out:
            self.assertIn("sysctl -w vm.max_map_count=", out)
        else:
            self.assertIn("of address space", out)
            self.assertIn("ulimit -v", out)

    def test_a_memory_limit_beyond_the_machine_is_refused_naming_the_component(self):
        self.refused(1, "100000GiB", "'scale/echo'", "more than this machine's memory")


if __name__ == "__main__":
    ARGS, rest = cp.parse_args()
    unittest.main(argv=[sys.argv[0], *rest])
